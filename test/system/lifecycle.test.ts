/**
 * The real gateway process under a systemd-like supervisor: a real NOTIFY_SOCKET (a unix datagram socket bound
 * here) receives READY=1 once the gateway is subscribed, WATCHDOG=1 pings, STOPPING=1 on SIGTERM; SIGTERM during a
 * burst exits 0 with `offline` retained, and after a restart every receipt is fiscalized exactly once.
 */
import t from 'tap';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { createSocket } from 'unix-dgram';
import { makeRig } from '../helpers/rig.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';

class NotifyListener {
  readonly messages: string[] = [];
  private readonly sock;
  constructor(readonly path: string) {
    this.sock = createSocket('unix_dgram', (msg: Buffer) => this.messages.push(msg.toString()));
    this.sock.bind(path);
  }
  has(line: string): boolean {
    return this.messages.some((m) => m.split('\n').includes(line));
  }
  close(): void {
    this.sock.close();
  }
}

async function until(pred: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('READY after subscribe, watchdog pings, graceful SIGTERM during a burst, nothing lost or doubled', async (t) => {
  const rig = await makeRig();
  t.teardown(() => rig.close());
  const notify = new NotifyListener(join(rig.dir, 'notify.sock'));
  t.teardown(() => notify.close());
  const env = { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '400000' };
  const config: typeof rig.config = { ...rig.config, log: { ...rig.config.log, level: 'info' } };

  const gw1 = startGatewayProcess(config, rig.dir, env);
  t.teardown(() => void gw1.child.kill('SIGKILL'));
  await until(() => notify.has('READY=1'), 'READY=1');
  // READY means subscribed: a receipt published the moment READY arrives (fresh session) is taken
  await rig.store.publish('receipt', sampleReceipt('first'));
  await rig.store.until(() => rig.store.final('first') !== undefined, 'result of the receipt sent at READY', 30_000);
  t.equal(rig.store.final('first')?.status, 'done');
  const pingsBefore = notify.messages.filter((m) => m === 'WATCHDOG=1').length;
  await until(() => notify.messages.filter((m) => m === 'WATCHDOG=1').length > pingsBefore + 1, 'watchdog pings while serving');
  t.ok(notify.messages.some((m) => m.includes(`MAINPID=${gw1.pid}`)), 'READY names the main PID');

  const ids = Array.from({ length: 25 }, (_, i) => `burst-${i}`);
  for (const id of ids) await rig.store.publish('receipt', sampleReceipt(id));
  await rig.store.until(() => ids.some((id) => rig.store.final(id) !== undefined), 'first results of the burst');
  gw1.child.kill('SIGTERM');
  const code1 = await gw1.exited;
  t.equal(code1, 0, 'exit code 0 after SIGTERM', { output: code1 === 0 ? '' : gw1.output().split('\n').slice(-30).join('\n') });
  t.ok(notify.has('STOPPING=1'), 'STOPPING=1 sent');
  t.ok(notify.messages.indexOf('WATCHDOG=1') < notify.messages.findIndex((m) => m.startsWith('STOPPING=1')), 'pings came before the stop');

  // `offline` retained on <base>/state
  const probe = await mqtt.connectAsync(rig.broker.url, { clientId: `probe-${process.pid}`, clean: true });
  const state = new Promise<string>((resolve) => probe.on('message', (topic, p) => topic.endsWith('/state') && resolve(p.toString())));
  await probe.subscribeAsync(`${rig.config.mqtt.base_topic}/state`, { qos: 1 });
  t.same(JSON.parse(await state), { state: 'offline' }, 'offline retained');
  await probe.endAsync();

  const doneBeforeRestart = ids.filter((id) => rig.store.final(id) !== undefined).length;
  t.comment(`${doneBeforeRestart} of ${ids.length} finished before the stop`);

  const gw2 = startGatewayProcess(config, rig.dir, env);
  t.teardown(() => void gw2.child.kill('SIGKILL'));
  await rig.store.until(() => ids.every((id) => rig.store.final(id) !== undefined), 'every burst result after the restart', 60_000);
  gw2.child.kill('SIGTERM');
  t.equal(await gw2.exited, 0);

  const all = ['first', ...ids];
  const docs = readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3);
  t.equal(docs.length, all.length, 'one receipt document per external_id');
  const finals = all.map((id) => rig.store.results(id).filter((r) => r.status !== 'accepted'));
  t.same(finals.map((f) => f.length), all.map(() => 1), 'exactly one final result per external_id');
  t.ok(finals.every((f) => f[0]!.status === 'done'), 'all done');
  t.same(new Set(finals.map((f) => f[0]!.payload?.fiscal_document_number)), new Set(docs.map((d) => d.fd)), 'results name the documents in the FN');
});
