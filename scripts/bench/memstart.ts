/**
 * P4 memory and P5 start, on the real gateway process with the emulator on a pty (instant line).
 *
 *   P4 idle     RSS (/proc/<pid>/status VmRSS) of a serving gateway, one receipt printed, then a few seconds of
 *               nothing; baseline: the reference consumer (reference-consumer.mjs: MQTT.js + LevelDB), connected, idle
 *   P4 queued   RSS a few seconds after a start with `queued` receipts waiting (it prints meanwhile: a few fewer
 *               are left at the reading)
 *   P5          spawn → ready: the retained `online` reached the store AND the first queued receipt is on the wire
 *               (its first FF46 item reached the register); baseline: the same start with an empty queue (`online`)
 *
 * The queue is filled before the start through the gateway's own store (src/queue/store.ts, QueueStore.accept: the
 * records the gateway writes when it accepts a receipt), many at a time, which takes seconds instead of minutes.
 */
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { QueueStore } from '../../src/queue/store.ts';
import * as h from './harness.ts';
import { fmt, type Section } from './table.ts';

const FF46 = 0xff46;

const parts = (st: { anonMB: number; fileMB: number }): string => `${fmt.mb(st.anonMB)} anonymous + ${fmt.mb(st.fileMB)} file`;

export async function memoryAndStart(o: { queued: number; starts: number; settleMs: number }): Promise<{ p4: Section; p5: Section }> {
  const broker = await h.broker();

  // the baseline of P4 idle: the reference consumer, connected and idle; and node alone
  const refDir = h.tempDir('p4-ref');
  const ref = h.spawnReference(broker.url, 'bench/idle', join(refDir, 'db'), 'idle');
  await ref.line('ready');
  await h.sleep(o.settleMs);
  const refRss = h.procStatus(ref.pid).rssMB;
  await ref.stop();
  const nodeRss = await h.idleNodeRss(h.gatewayNodeArgs(), h.gatewayNodeEnv());

  const reg = await h.register();
  reg.line.trace = true;
  const dir = h.tempDir('p45');
  const config = h.gatewayConfig(dir, broker.url, reg.pty.path);
  const store = await h.storeClient(broker.url, config.mqtt.base_topic);
  const arrivals = new h.Arrivals(store);

  /** one start; `serving`: also wait for the first queued receipt on the wire */
  const start = async (serving: boolean, runner?: h.RunnerKind): Promise<{ gw: h.Gateway; ready: number }> => {
    const gw = h.spawnGateway(config, dir, runner ? { runner } : {});
    const online = (await h.waitOnline(arrivals, gw.spawnedAt, gw)) - gw.spawnedAt;
    let ready = online;
    if (serving) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const first = reg.line.requests.find((r) => r.code === FF46 && r.at >= gw.spawnedAt);
        if (first) {
          ready = Math.max(online, first.at - gw.spawnedAt);
          break;
        }
        if (Date.now() > deadline || gw.child.exitCode !== null) throw new Error(`no receipt reached the register after the start:\n${gw.output().slice(-3000)}`);
        await h.sleep(5);
      }
    }
    reg.line.requests.length = 0;
    return { gw, ready };
  };
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

  // a first start creates the database and the broker session; not measured
  await (await start(false)).gw.stop();

  // empty queue: P5's baseline, P4 idle
  const empty: number[] = [];
  let idleRss = NaN;
  let idleParts = '';
  for (let i = 0; i < o.starts; i++) {
    const { gw, ready } = await start(false);
    empty.push(ready);
    if (i === 0) {
      await store.publish('receipt', h.receiptJson('p4-idle'));
      await arrivals.until(() => arrivals.done.has('p4-idle'), 'a receipt printed', 30_000);
      await h.sleep(o.settleMs);
      const st = h.procStatus(gw.pid);
      idleRss = st.rssMB;
      idleParts = parts(st);
    }
    await gw.stop();
  }
  h.progress(`P4/P5: empty-queue starts ${empty.map(fmt.ms).join(', ')}`);

  // the queue, filled through the gateway's own store
  const t0 = performance.now();
  const queue = await QueueStore.open(resolve(config.data_dir, 'queue'), { maxJobs: config.queue.max_receipts });
  const ids = Array.from({ length: o.queued }, (_, i) => `p5-${i}`);
  for (let i = 0; i < ids.length; i += 1000) {
    const results = await Promise.all(ids.slice(i, i + 1000).map((externalId) => queue.accept({ kind: 'receipt', externalId, body: h.receiptJson(externalId) })));
    const refused = results.find((r) => r.status !== 'accepted');
    if (refused) throw new Error(`filling the queue: ${refused.status}`);
  }
  await queue.close();
  h.progress(`P4/P5: ${o.queued.toLocaleString('en-US')} receipts queued in ${fmt.num((performance.now() - t0) / 1000)} s`);

  const queued: number[] = [];
  let queuedRss = NaN;
  let queuedHwm = NaN;
  let depth = NaN;
  let queuedParts = '';
  for (let i = 0; i < o.starts; i++) {
    const { gw, ready } = await start(true);
    queued.push(ready);
    if (i === 0) {
      await h.sleep(o.settleMs);
      const st = h.procStatus(gw.pid);
      ({ rssMB: queuedRss, hwmMB: queuedHwm } = st);
      queuedParts = parts(st);
      depth = o.queued - ids.filter((id) => arrivals.done.has(id)).length;
    }
    await gw.stop();
  }
  h.progress(`P4/P5: starts with ${o.queued.toLocaleString('en-US')} queued ${queued.map(fmt.ms).join(', ')}`);
  // the same start under the development runner, for comparison
  let dev: { ready: number; rss: number } | undefined;
  if (h.runnerKind() !== 'tsx') {
    const { gw, ready } = await start(true, 'tsx');
    await h.sleep(o.settleMs);
    dev = { ready, rss: h.procStatus(gw.pid).rssMB };
    await gw.stop();
  }

  const q = o.queued.toLocaleString('en-US');
  const [full, none] = [median(queued), median(empty)];
  const quick = o.queued < 100_000 ? ` Quick mode: ${q} receipts queued instead of 100,000.` : '';
  const runner = h.runnerKind() === 'bundle' ? 'the production bundle (`node dist/kkt-gateway.mjs`, as the systemd unit runs it)' : 'the development runner (`node bin/kkt-gateway.js`, tsx)';
  return {
    p4: {
      rows: [
        { id: 'P4', figure: 'RSS idle', value: fmt.mb(idleRss), baseline: `${fmt.mb(refRss)} reference`, ratio: fmt.ratio(idleRss / refRss), goal: `≤ reference + 10 MB (${fmt.mb(refRss + 10)})`, ok: idleRss <= refRss + 10 },
        { id: 'P4', figure: `RSS, ${q} queued`, value: fmt.mb(queuedRss), baseline: `${fmt.mb(idleRss)} idle`, ratio: fmt.ratio(queuedRss / idleRss), goal: `≤ idle + 5 MB (${fmt.mb(idleRss + 5)})`, ok: queuedRss <= idleRss + 5 },
      ],
      notes: [
        `P4: VmRSS of ${runner}. Idle: serving, the register connected, one receipt printed, then ${o.settleMs / 1000} s without traffic. Queued: ${o.settleMs / 1000} s after a start with ${q} receipts waiting (${Math.round(depth).toLocaleString('en-US')} still queued at the reading); peak (VmHWM) ${fmt.mb(queuedHwm)}. Of VmRSS, anonymous memory (heaps, stacks) and mapped file pages (the program, its libraries, LevelDB's table files read through mmap): idle ${idleParts}, queued ${queuedParts}.${dev ? ` The development runner (tsx) in the same state: ${fmt.mb(dev.rss)}.` : ''} Baseline: the reference consumer (MQTT.js + LevelDB under a plain node, connected and idle); an idle \`node\` alone takes ${fmt.mb(nodeRss)}.${h.gatewayRuntime() ? ` Both baselines run under the gateway's runtime settings (\`${h.gatewayRuntime()}\`, the bundle's first line).` : ''}${quick}`,
      ],
    },
    p5: {
      rows: [{ id: 'P5', figure: `start → ready, ${q} queued`, value: fmt.ms(full), baseline: `${fmt.ms(none)} empty queue`, ratio: fmt.ratio(full / none), goal: '≤ 2000 ms', ok: full <= 2000 }],
      notes: [
        `P5: ${runner}, from its spawn to ready: the retained \`online\` at the store and, with a queue, the first queued receipt's first item (FF46) at the register. Median of ${o.starts} start(s): ${q} queued ${queued.map(fmt.ms).join(', ')}; empty queue (\`online\` only) ${empty.map(fmt.ms).join(', ')}.${dev ? ` The development runner (tsx, its transform cache warm) took ${fmt.ms(dev.ready)} with the queue.` : ''}${quick}`,
      ],
    },
  };
}
