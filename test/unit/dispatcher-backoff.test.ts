/**
 * The dispatcher's backoff with the register away: new receipts (nudge) do not cut it short — each message would
 * otherwise retry the port at once — while a sign that the device is back (retryNow) and stop() do; no abort
 * listener outlives its wait (MaxListenersExceededWarning seen before).
 */
import t from 'tap';
import { Dispatcher, type DispatchStore, type JobRunner } from '../../src/dispatch/dispatcher.ts';
import { DriverError } from '../../drivers/types.ts';
import { createLogger } from '../../src/log.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('nudges during a backoff wait; retryNow and stop end it', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  let attempts = 0;
  const store: DispatchStore = { head: async () => ({ seq: 1, kind: 'receipt' }), inflight: async () => undefined, setInflight: async () => undefined, clearInflight: async () => undefined };
  const d = new Dispatcher({
    store,
    runner: {} as JobRunner,
    driver: async () => {
      attempts++;
      throw new DriverError('NO_LINK', 'retryable', 'register not reachable');
    },
    dropDriver: async () => undefined,
    logger: createLogger({ level: 'silent' }),
    backoff: { minMs: 400, maxMs: 400 },
  });
  d.start();
  await wait(50);
  t.equal(attempts, 1, 'first attempt');
  for (let i = 0; i < 200; i++) d.nudge();
  await wait(150);
  t.equal(attempts, 1, '200 new receipts did not retry the port');
  t.ok(d.state.blocked, 'the head is blocked');
  d.retryNow();
  await wait(50);
  t.equal(attempts, 2, 'retryNow ends the backoff');
  await wait(450);
  t.equal(attempts, 3, 'the backoff runs its course otherwise');
  const t0 = Date.now();
  await d.stop();
  t.ok(Date.now() - t0 < 300, 'stop ends the wait at once');
  t.same(warnings, [], 'no MaxListenersExceededWarning');
});
