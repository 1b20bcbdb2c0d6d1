/**
 * Crash campaign: the gateway as a real child process, SIGKILLed at random moments during a burst of receipts
 * (often while a receipt is on the wire), restarted each time; a real mosquitto, the emulator on a real pty.
 * Afterwards every external_id must have exactly one fiscal document in the emulator's journal and a final result
 * on the broker (all copies of it identical).
 *
 *   npx tsx scripts/chaos/crash.ts [--receipts N] [--kills K] [--seed S] [--print-ms MS] [--protocol shtrih|atol]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { Emulator } from '../../drivers/emulator/emulator.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { startMosquitto } from '../../test/helpers/broker.ts';
import { StoreClient, makeEmulator, type RigProtocol } from '../../test/helpers/rig.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { Results } from './results.ts';

export interface CrashOptions {
  receipts: number;
  kills: number;
  seed: number;
  /** emulator print time per document: the longer, the more kills land mid-receipt */
  printMs: number;
  /** the register's protocol (the emulator's front-end and the gateway's device.protocol); default shtrih */
  protocol?: RigProtocol;
  /** a pool: one emulator per entry (its protocol), each on its own pty with its own FN; default one, `protocol` */
  pool?: RigProtocol[];
  log?: (line: string) => void;
}

export interface CrashFigures {
  seed: number;
  protocol: string;
  receipts: number;
  kills: number;
  killsMidReceipt: number;
  accepted: number;
  fiscalized: number;
  resultsPublished: number;
  resultCopies: number;
  lost: number;
  duplicated: number;
  inconsistentResults: number;
  /** results whose `device` is not the register whose FN holds the receipt (a pool) */
  wrongDevice: number;
  /** receipts per register (a pool) */
  perRegister?: string;
  seconds: number;
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** receipt i has a unique total, so its document can be found in the FN journal */
export function crashReceipt(id: string, i: number): Record<string, unknown> {
  const r = sampleReceipt(id) as any;
  const delivery = 30000 + i; // kopecks
  r.receipt.items[2].price = delivery / 100;
  r.receipt.items[2].sum = delivery / 100;
  const total = 199000 + 169900 + delivery;
  r.receipt.total = total / 100;
  r.receipt.payments[0].sum = total / 100;
  return r;
}

const ROOT = resolve(import.meta.dirname, '../..');

/** node arguments for a gateway child: it dies with the harness (parent-watch.mjs) */
export const PARENT_WATCH = ['--import', pathToFileURL(join(import.meta.dirname, 'parent-watch.mjs')).href];

export async function runCrashCampaign(o: CrashOptions): Promise<CrashFigures> {
  const t0 = Date.now();
  const log = o.log ?? (() => undefined);
  const rnd = prng(o.seed);
  const dir = mkdtempSync(join(tmpdir(), 'kkt-crash-'));
  const broker = await startMosquitto({ persistence: false });
  const protocol = o.protocol ?? 'shtrih';
  const protocols = o.pool ?? [protocol];
  const regs = await Promise.all(protocols.map(async (p, i) => {
    const id = o.pool ? `r${i + 1}` : 'kkt1';
    const journal = join(dir, o.pool ? `fn-${id}.jsonl` : 'fn.jsonl');
    const emulator = makeEmulator(p, { journalPath: journal, link: { printMs: o.printMs }, identity: { fnSerial: `99604403${String(200000 + i).padStart(8, '0')}` } });
    const pty = await createPty({ link: join(dir, `tty-${id}`) }); // never another run's pty after a reuse of /dev/pts/N
    emulator.attach(pty.stream);
    return { id, protocol: p, journal, emulator, pty };
  }));
  const base = 'kkt/crash';
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({
    gateway_id: 'crash',
    data_dir: join(dir, 'data'),
    mqtt: { url: broker.url, base_topic: base, protocol_version: 5, reconnect_min_ms: 200, reconnect_max_ms: 1000 },
    ...(o.pool ? { devices: regs.map((r) => ({ id: r.id, port: r.pty.path, protocol: r.protocol })) } : { device: { port: regs[0]!.pty.path, protocol } }),
    web: { port: 0 },
    log: { level: 'warn' },
  }));
  const errLog = createWriteStream(join(dir, 'gateway.log'));
  const store = await StoreClient.connect(broker.url, base);
  const results = new Results(store);
  let child: ChildProcess | undefined;
  const startGateway = (): ChildProcess => {
    const c = spawn(process.execPath, [...PARENT_WATCH, join(ROOT, 'bin/kkt-gateway.js'), 'run', '--config', configPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.pipe(errLog, { end: false });
    c.stderr!.pipe(errLog, { end: false });
    return c;
  };
  const ids = Array.from({ length: o.receipts }, (_, i) => `crash-${o.seed}-${i}`);
  let killsMidReceipt = 0;
  try {
    child = startGateway();
    // the first start subscribes; then the burst goes out while the gateway is being killed and restarted
    await store.until(() => store.messages.some((m) => m.topic === `${base}/state` && m.body?.state === 'online'), 'gateway online', 30_000);
    const publishing = (async () => {
      for (let i = 0; i < ids.length; i++) await store.publish('receipt', crashReceipt(ids[i]!, i));
    })();
    const onlines = (): number => store.messages.filter((m) => m.topic === `${base}/state` && m.body?.state === 'online').length;
    for (let k = 0; k < o.kills; k++) {
      // kill at a random moment after the gateway is serving again
      const seen = onlines();
      await store.until(() => onlines() > seen || k === 0, 'gateway back online', 30_000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, rnd() * 600));
      const open = regs.some((r) => r.emulator.frontEnd.receiptOpen);
      child.kill('SIGKILL');
      await once(child, 'exit');
      if (open) killsMidReceipt++;
      log(`kill ${k + 1}/${o.kills}: FN last FD ${regs.map((r) => r.emulator.journal.lastFd).join('/')}, finals ${ids.filter((id) => results.final(id)).length}/${ids.length}`);
      child = startGateway();
    }
    await publishing;
    await store.until(() => ids.every((id) => results.final(id) !== undefined), 'every final result', 60_000 + o.receipts * 200);
  } finally {
    await teardown({ child, store, emulators: regs.map((r) => r.emulator), ptys: regs.map((r) => r.pty), broker });
    errLog.end();
  }

  // every FN of the pool: which register holds each total
  const docs = regs.flatMap((r) => readJournal(r.journal).documents.filter((d) => d.type === 3).map((d) => ({ ...d, device: r.id })));
  const byTotal = new Map<number, number>();
  const holder = new Map<number, string>();
  for (const d of docs) {
    byTotal.set(d.total ?? -1, (byTotal.get(d.total ?? -1) ?? 0) + 1);
    holder.set(d.total ?? -1, d.device);
  }
  let wrongDevice = 0;
  let lost = 0;
  let duplicated = 0;
  let inconsistent = 0;
  let copies = 0;
  ids.forEach((id, i) => {
    const n = byTotal.get(199000 + 169900 + 30000 + i) ?? 0;
    const finals = results.of(id).filter((r) => r.status !== 'accepted');
    copies += finals.length;
    if (n === 0 || finals.length === 0) lost++;
    if (n > 1) duplicated++;
    if (o.pool && finals.some((f) => (f as { device?: string }).device !== holder.get(199000 + 169900 + 30000 + i))) wrongDevice++;
    const distinct = new Set(finals.map((f) => JSON.stringify([f.status, f.payload?.fiscal_document_number, f.error?.code])));
    if (distinct.size > 1 || finals.some((f) => f.status !== 'done')) inconsistent++;
  });
  return {
    seed: o.seed,
    protocol: o.pool ? `pool ${o.pool.join('+')}` : protocol,
    receipts: o.receipts,
    kills: o.kills,
    killsMidReceipt,
    accepted: ids.filter((id) => results.has(id, 'accepted')).length,
    fiscalized: docs.length,
    resultsPublished: ids.filter((id) => results.final(id)).length,
    resultCopies: copies,
    lost,
    duplicated,
    inconsistentResults: inconsistent,
    wrongDevice,
    ...(o.pool ? { perRegister: regs.map((r) => `${r.id}:${docs.filter((d) => d.device === r.id).length}`).join(' ') } : {}),
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  };
}

/** stops a gateway child (SIGTERM, waits) and the parts around it */
export async function teardown(p: { child: ChildProcess | undefined; store: StoreClient; emulators: Emulator[]; ptys: Array<{ close(): Promise<void> }>; broker: { stop(): Promise<void> } }): Promise<void> {
  if (p.child && p.child.exitCode === null) {
    p.child.kill('SIGTERM');
    await once(p.child, 'exit');
  }
  await p.store.close();
  for (const e of p.emulators) e.close();
  for (const pty of p.ptys) await pty.close();
  await p.broker.stop();
}

/** the --protocol flag of the chaos scripts: shtrih (default) or atol */
export function protocolArg(value: string | undefined): RigProtocol {
  if (value === undefined || value === 'shtrih' || value === 'atol') return value ?? 'shtrih';
  throw new Error(`--protocol shtrih|atol, not ${value}`);
}

export function printFigures(title: string, f: CrashFigures): void {
  const rows = Object.entries(f).map(([k, v]) => `| ${k} | ${v} |`);
  process.stdout.write([`### ${title}`, '| figure | value |', '|---|---|', ...rows, ''].join('\n') + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { receipts: { type: 'string' }, kills: { type: 'string' }, seed: { type: 'string' }, 'print-ms': { type: 'string' }, protocol: { type: 'string' } } });
  const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  const figures = await runCrashCampaign({
    receipts: Number(values.receipts ?? 200),
    kills: Number(values.kills ?? 10),
    seed,
    printMs: Number(values['print-ms'] ?? 30),
    protocol: protocolArg(values.protocol),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  printFigures(`crash campaign (seed ${seed})`, figures);
  process.exitCode = figures.lost === 0 && figures.duplicated === 0 && figures.inconsistentResults === 0 && figures.wrongDevice === 0 ? 0 : 1;
}
