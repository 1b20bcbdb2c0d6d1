import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { QueueStore } from '../../src/queue/store.ts';
import { drain } from './helpers.ts';

const child = fileURLToPath(new URL('./fixtures/accept-child.ts', import.meta.url));

/** Runs the child until it has reported `count` accepted ids, SIGKILLs it, returns the ids it reported. */
async function acceptThenKill(dir: string, count: number): Promise<string[]> {
  const proc = spawn(process.execPath, ['--import=tsx', child, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: string[] = [];
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const line of lines) if (line.startsWith('kill-')) acked.push(line);
    if (acked.length >= count && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const [code, signal] = (await once(proc, 'exit')) as [number | null, string | null];
  if (signal !== 'SIGKILL') throw new Error(`child ended with ${code}/${signal}`);
  return acked;
}

t.test('every accept() that resolved before a SIGKILL is found after reopen, in order', async (t) => {
  const dir = t.testdir();
  const acked = await acceptThenKill(dir, 200);
  t.ok(acked.length >= 200);

  const store = await QueueStore.open(dir);
  t.teardown(() => store.close());
  const ids: string[] = [];
  for (let job = await store.head(); job; job = await store.head()) {
    ids.push(job.externalId!);
    await store.complete(job.seq, { status: 'done', result: {}, outbox: [] });
  }
  const onDisk = new Set(ids);
  t.same(acked.filter((id) => !onDisk.has(id)), [], 'no acknowledged receipt is lost');
  t.same(ids, [...ids].sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))), 'FIFO order = acceptance order');
  t.ok(ids.length >= acked.length, 'jobs written but not yet reported are there too (the broker would redeliver them as duplicates)');
  t.equal(store.outboxDepth(), ids.length, 'each job has its accepted result in the outbox (written in the same batch)');
  t.same(await drain(store), []);
});
