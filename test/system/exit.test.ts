/** exitAfterDrain: the exit waits until everything written before has left the streams (src/system/exit.ts). */
import t from 'tap';
import { Writable } from 'node:stream';
import { exitAfterDrain } from '../../src/system/exit.ts';

/** a stream that takes each chunk after a delay, like a pipe whose reader is slow */
function slowSink(): { stream: Writable; taken: () => number } {
  let taken = 0;
  const stream = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      setTimeout(() => {
        taken += chunk.length;
        cb();
      }, 2);
    },
  });
  return { stream, taken: () => taken };
}

t.test('exits only after every byte written before was taken, on each stream', async (t) => {
  const a = slowSink();
  const b = slowSink();
  for (let i = 0; i < 50; i++) a.stream.write(Buffer.alloc(4096, 1));
  b.stream.write('x'.repeat(10_000));
  const before = process.exitCode;
  t.teardown(() => {
    process.exitCode = before;
  });
  const exits: Array<{ code: number; a: number; b: number }> = [];
  await exitAfterDrain(3, { streams: [a.stream, b.stream], exit: (code) => exits.push({ code, a: a.taken(), b: b.taken() }) });
  t.same(exits, [{ code: 3, a: 50 * 4096, b: 10_000 }]);
});

t.test('a closed stream does not hold the exit; maxWaitMs bounds a reader that never reads', async (t) => {
  const before = process.exitCode;
  t.teardown(() => {
    process.exitCode = before;
  });
  const closed = slowSink().stream;
  closed.destroy();
  const codes: number[] = [];
  await exitAfterDrain(0, { streams: [closed], exit: (c) => codes.push(c) });
  t.same(codes, [0]);

  const stuck = new Writable({ highWaterMark: 1, write: () => undefined }); // never calls back
  stuck.write('a');
  const forced = await new Promise<number>((resolve) => void exitAfterDrain(1, { streams: [stuck], maxWaitMs: 50, exit: resolve }));
  t.equal(forced, 1);
});
