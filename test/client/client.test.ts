/**
 * The store client library (src/client) against real parts: mosquitto (MQTT 5, shared subscriptions), the gateway
 * in-process, the register emulator on a pty. Every submit must resolve with its final result and every receipt
 * must be printed exactly once (the emulator's FN journal), across a broker restart, a QUEUE_FULL burst and a lost
 * result.
 */
import t from 'tap';
import { makeRig } from '../helpers/rig.ts';
import { freePort } from '../helpers/broker.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { connectClient, KktClientError, type FinalResult, type KktClient, type ReceiptResultJson } from '../../src/client/index.ts';
import { printedOnce, receipt } from './helpers.ts';

type Submitted = { id: string; i: number; request: Record<string, unknown>; result: FinalResult | undefined };

async function submitAll(client: KktClient, ids: string[], offset = 0, onAccepted?: (r: ReceiptResultJson) => void): Promise<Submitted[]> {
  return Promise.all(
    ids.map(async (id, k) => {
      const i = offset + k;
      const request = receipt(id, i);
      const result = await client.submit('test', request, onAccepted ? { onAccepted } : {});
      return { id, i, request, result };
    }),
  );
}

const clientId = (name: string): string => `store-${name}-${process.pid}`;

t.test('receipts submitted through the client all come back done, each printed once; commands; bad input', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto' });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const others: ReceiptResultJson[] = [];
  const client = await connectClient({ url: rig.broker.url, clientId: clientId('basic'), resultTimeoutMs: 5000, onResult: (r) => void others.push(r) });
  t.teardown(() => client.close());

  const accepted: string[] = [];
  const ids = Array.from({ length: 10 }, (_, k) => `cl-basic-${k}`);
  const submitted = await submitAll(client, ids, 0, (r) => accepted.push(r.external_id));
  t.same(printedOnce(rig, submitted), [], 'every receipt done and printed once');
  t.same([...accepted].sort(), [...ids].sort(), 'onAccepted once per receipt');
  t.equal(client.pending, 0, 'nothing left pending');

  // a result that comes again (here: asked for) resolves nothing twice and is not taken for someone else's
  const repub = await client.command('test', 'result', { external_id: ids[0] });
  t.equal(repub.status, 'ok');
  await rig.store.until(() => rig.store.results(ids[0]).filter((r) => r.status === 'done').length === 2, 'the result re-published');
  await client.command('test', 'status'); // a round trip after it: the copy has reached the client too
  t.same(others, [], 'the copy was dropped: no onResult for a submit that already resolved');

  // the same receipt again (the same object: the same bytes) → the gateway's stored result, nothing printed
  const again = await client.submit('test', submitted[0]!.request);
  t.equal(again.status, 'done');
  t.equal(again.payload?.fiscal_document_number, submitted[0]!.result!.payload?.fiscal_document_number, 'the stored result');
  t.same(printedOnce(rig, submitted), [], 'still printed once');

  // a non-retryable fail resolves (it is final): a different body under a known id
  const changed = { ...submitted[1]!.request, timestamp: '01.01.2026 00:00:00' };
  const mismatch = await client.submit('test', changed);
  t.equal(mismatch.status, 'fail');
  t.equal(mismatch.error?.code, 'DUPLICATE_MISMATCH');
  t.equal(mismatch.error?.retryable, false);

  const status = await client.command('test', 'status');
  t.equal(status.status, 'ok', 'status answered');
  t.match(status.transaction, /^kkt-client-/, 'matched by its generated transaction');
  t.ok(status.data && typeof status.data === 'object', 'status data');
  const close = await client.command('test', 'close_shift');
  t.equal(close.status, 'ok', 'close_shift answered');
  const z = await client.command<unknown[]>('test', 'zreports', { limit: 5 });
  t.equal(z.status, 'ok');
  t.ok(Array.isArray(z.data) && z.data.length >= 1, 'the Z-report is listed');
  const unknown = await client.command('test', 'no_such_command');
  t.equal(unknown.status, 'error');
  t.equal(unknown.error?.code, 'UNKNOWN_COMMAND');
  await t.rejects(client.command('nobody-here', 'status', {}, { timeoutMs: 300 }), { name: 'KktClientError', code: 'TIMEOUT' }, 'no gateway: TIMEOUT');

  // bad input: a typed error, nothing published
  const receiptsSeen = (): number => rig.store.messages.filter((m) => m.topic === 'kkt/test/receipt').length;
  const before = receiptsSeen();
  for (const [what, gw, req] of [
    ['null', 'test', null],
    ['an array', 'test', [1, 2]],
    ['a number', 'test', 42],
    ['no external_id', 'test', { operation: 'sell' }],
    ['an empty external_id', 'test', { operation: 'sell', external_id: '' }],
    ['a numeric external_id', 'test', { operation: 'sell', external_id: 7 }],
    ['an external_id of 129 characters', 'test', { external_id: 'x'.repeat(129) }],
    ['not JSON', 'test', '{"external_id": '],
    ['a wildcard gateway id', 'te+st', receipt('cl-bad', 99)],
    ['an empty gateway id', '', receipt('cl-bad', 99)],
  ] as const) {
    const err = await client.submit(gw, req as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof KktClientError && err.code === 'BAD_INPUT', `${what}: KktClientError BAD_INPUT`);
  }
  await t.rejects(client.command('test', 'status', [] as never), { code: 'BAD_INPUT' });
  await t.rejects(connectClient({} as never), { name: 'KktClientError', code: 'BAD_INPUT' }, 'connectClient without url');
  await t.rejects(connectClient({ url: `mqtt://127.0.0.1:${await freePort()}`, clientId: clientId('nobody') }), { name: 'KktClientError', code: 'CONNECT' }, 'no broker: CONNECT');
  await client.command('test', 'status'); // a round trip: anything published before it has reached the store's view
  await rig.store.until(() => rig.store.messages.some((m) => m.topic === 'kkt/test/response/status'), 'status seen');
  t.equal(receiptsSeen(), before, 'no receipt was published for bad input');

  // close() lets the publish in flight reach the broker: the receipt is printed after the client is gone
  const short = await connectClient({ url: rig.broker.url, clientId: clientId('short') });
  const lastOne = short.submit('test', receipt('cl-basic-closed', 10));
  await short.close();
  await t.rejects(lastOne, { code: 'CLOSED' }, 'its submit rejects CLOSED');
  await rig.store.until(() => rig.store.results('cl-basic-closed').some((r) => r.status === 'done'), 'printed after close()');
  await t.rejects(short.submit('test', receipt('cl-basic-after', 11)), { code: 'CLOSED' }, 'a closed client submits nothing');
});

t.test('across a broker restart mid-burst every submit resolves done and nothing is printed twice', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto', brokerOptions: { persistence: true }, emulator: { link: { printMs: 30 } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const client = await connectClient({ url: rig.broker.url, clientId: clientId('restart'), resultTimeoutMs: 2000, retry: { minMs: 100, maxMs: 1000 } });
  t.teardown(() => client.close());
  const ids = Array.from({ length: 30 }, (_, k) => `cl-restart-${k}`);
  const burst = submitAll(client, ids);
  await rig.store.until(() => rig.store.messages.filter((m) => m.topic === 'kkt/test/result' && m.body?.status === 'done').length >= 3, 'the first receipts printed', 30_000);
  t.ok(client.pending > 0, `${client.pending} submits pending when the broker goes down`);
  await rig.broker.restart!();
  const submitted = await burst;
  t.same(printedOnce(rig, submitted), [], 'every receipt done and printed once');
  t.equal(client.pending, 0);
});

t.test('a QUEUE_FULL burst: 30 submits at once into a queue of 5 are all done, each printed once', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto', config: { queue: { max_receipts: 5 } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const client = await connectClient({ url: rig.broker.url, clientId: clientId('full'), resultTimeoutMs: 5000, retry: { minMs: 100, maxMs: 800 } });
  t.teardown(() => client.close());
  const raw = new Map<string, Set<string>>();
  const sent = new Map<string, number>();
  rig.store.client.on('message', (topic, payload) => {
    if (topic !== 'kkt/test/receipt') return;
    const id = String((JSON.parse(payload.toString()) as { external_id: string }).external_id);
    raw.set(id, (raw.get(id) ?? new Set()).add(payload.toString('hex')));
    sent.set(id, (sent.get(id) ?? 0) + 1);
  });
  const ids = Array.from({ length: 30 }, (_, k) => `cl-full-${k}`);
  const submitted = await submitAll(client, ids);
  t.ok([...sent.values()].some((n) => n > 1), `re-published (up to ${Math.max(...sent.values())} times)`);
  t.same(ids.filter((id) => raw.get(id)?.size !== 1), [], 'every publish of a receipt carried the very same bytes');
  const full = rig.store.results().filter((r) => r.status === 'fail' && r.error?.code === 'QUEUE_FULL');
  t.ok(full.length > 0, `${full.length} QUEUE_FULL answers on the way (the path was taken)`);
  t.ok(full.every((r) => r.error?.retryable === true), 'all retryable');
  t.same(printedOnce(rig, submitted), [], 'every receipt done and printed once');
});

t.test('retry.maxAttempts: a submit that keeps getting QUEUE_FULL gives up with RETRIES_EXHAUSTED and its last result', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto', config: { queue: { max_receipts: 1 } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  t.match(runControl(rig.emulator, 'silent on'), /^OK/);
  const client = await connectClient({ url: rig.broker.url, clientId: clientId('exhaust'), resultTimeoutMs: 5000, retry: { minMs: 50, maxMs: 100, maxAttempts: 3 } });
  t.teardown(() => client.close());
  // the first fills the queue (a silent register holds it at the head), the second is refused every time
  const first = client.submit('test', receipt('cl-ex-0', 0));
  first.catch(() => undefined);
  await rig.store.until(() => rig.store.results('cl-ex-0').some((r) => r.status === 'accepted'), 'the first queued');
  const err = await client.submit('test', receipt('cl-ex-1', 1)).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof KktClientError && err.code === 'RETRIES_EXHAUSTED', 'RETRIES_EXHAUSTED');
  t.equal((err as KktClientError).result?.error?.code, 'QUEUE_FULL', 'with the last result');
  t.equal(rig.store.messages.filter((m) => m.topic === 'kkt/test/receipt' && m.body?.external_id === 'cl-ex-1').length, 3, 'published 3 times');
});

t.test('a lost result is recovered through request/result; a receipt the gateway never got is re-published', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto', brokerOptions: { persistence: false } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const client = await connectClient({ url: rig.broker.url, clientId: clientId('lost'), resultTimeoutMs: 1500 });
  t.teardown(() => client.close());
  const asked = (id: string): number => rig.store.messages.filter((m) => m.topic === 'kkt/test/request/result' && m.body?.external_id === id).length;

  // 1. the result is published while the client is not subscribed: it never reaches it
  await client.mqtt.unsubscribeAsync('kkt/+/result');
  const lost = client.submit('test', receipt('cl-lost-0', 0));
  await rig.store.until(() => rig.store.results('cl-lost-0').some((r) => r.status === 'done'), 'printed');
  await client.mqtt.subscribeAsync('kkt/+/result', { qos: 1 });
  const r0 = await lost;
  t.equal(r0.status, 'done', 'resolved done');
  t.ok(asked('cl-lost-0') >= 1, 'through request/result');

  // 2. the gateway never got it: published while the gateway is down, then the broker loses its session
  await rig.stopGateway();
  const never = client.submit('test', receipt('cl-lost-1', 1));
  await rig.store.until(() => rig.store.messages.some((m) => m.topic === 'kkt/test/receipt' && m.body?.external_id === 'cl-lost-1'), 'published');
  await rig.broker.restart!();
  await rig.startGateway();
  const r1 = await never;
  t.equal(r1.status, 'done', 'resolved done');
  const notFound = rig.store.messages.filter((m) => m.topic === 'kkt/test/response/result' && m.body?.error?.code === 'NOT_FOUND');
  t.ok(notFound.length >= 1, 'the gateway said NOT_FOUND');
  t.ok(rig.store.messages.filter((m) => m.topic === 'kkt/test/receipt' && m.body?.external_id === 'cl-lost-1').length >= 2, 'and the receipt was published again');
  t.same(printedOnce(rig, [{ id: 'cl-lost-0', i: 0, result: r0 }, { id: 'cl-lost-1', i: 1, result: r1 }]), [], 'each printed once');
});

t.test('two backends in one shared group: both take results from the stream, every submit resolves', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto' });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const foreign = { a: 0, b: 0 };
  const a = await connectClient({ url: rig.broker.url, clientId: clientId('share-a'), sharedGroup: 'stores', resultTimeoutMs: 20_000, onResult: () => foreign.a++ });
  t.teardown(() => a.close());
  const b = await connectClient({ url: rig.broker.url, clientId: clientId('share-b'), sharedGroup: 'stores', resultTimeoutMs: 20_000 });
  t.teardown(() => b.close());
  b.onResult(() => foreign.b++);
  const fromStream = { a: 0, b: 0 };
  a.mqtt.on('message', (topic) => void (topic.endsWith('/result') && fromStream.a++));
  b.mqtt.on('message', (topic) => void (topic.endsWith('/result') && fromStream.b++));
  const idsA = Array.from({ length: 10 }, (_, k) => `cl-share-a-${k}`);
  const idsB = Array.from({ length: 10 }, (_, k) => `cl-share-b-${k}`);
  const [sa, sb] = await Promise.all([submitAll(a, idsA, 0), submitAll(b, idsB, 10)]);
  t.comment(JSON.stringify({ fromStream, foreign }));
  t.ok(fromStream.a > 0 && fromStream.b > 0, 'both backends took results from the shared stream');
  t.ok(fromStream.a + fromStream.b < 2 * 40, 'each result went to one of them (not to both)');
  // only A submits now: the broker hands some of its results to B (round robin), which passes them to its onResult
  // listeners and relays them; A resolves every submit all the same
  const b0 = fromStream.b;
  const a0 = foreign.a;
  const idsA2 = Array.from({ length: 10 }, (_, k) => `cl-share-a2-${k}`);
  const sa2 = await submitAll(a, idsA2, 20);
  t.comment(JSON.stringify({ fromStream, foreign }));
  t.ok(fromStream.b > b0 && foreign.b > 0, 'B took some of A\'s results and handed them to onResult');
  t.equal(foreign.a, a0, 'A\'s own results (direct or relayed) never went to its onResult');
  t.same(printedOnce(rig, [...sa, ...sb, ...sa2]), [], 'every receipt done and printed once');
});

t.test('a backend restart: the result that came while it was away goes to onResult; the stored bytes again resolve with the stored result', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto', emulator: { link: { printMs: 300 } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const id = clientId('restarting');
  const first = await connectClient({ url: rig.broker.url, clientId: id, resultTimeoutMs: 5000 });
  const request = receipt('cl-away-0', 0);
  const bytes = JSON.stringify(request); // what the store keeps with its order
  let acceptedSeen!: () => void;
  const accepted = new Promise<void>((r) => (acceptedSeen = r));
  const pending = first.submit('test', bytes, { onAccepted: () => acceptedSeen() });
  await accepted;
  await first.close(); // before the result: the submit rejects CLOSED, the session keeps what comes next
  const err = await pending.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof KktClientError && err.code === 'CLOSED', 'the pending submit rejected CLOSED');
  await rig.store.until(() => rig.store.results('cl-away-0').some((r) => r.status === 'done'), 'printed while the backend was away');

  const seen: ReceiptResultJson[] = [];
  const second = await connectClient({ url: rig.broker.url, clientId: id, resultTimeoutMs: 5000, onResult: (r, gw) => void (gw === 'test' && seen.push(r)) });
  t.teardown(() => second.close());
  await rig.store.until(() => seen.some((r) => r.status === 'done'), 'the queued result delivered on reconnect', 10_000).catch((e: Error) => t.fail(e.message));
  const again = await second.submit('test', bytes);
  t.equal(again.status, 'done', 'the stored bytes again: done');
  t.equal(again.payload?.fiscal_document_number, seen.find((r) => r.status === 'done')?.payload?.fiscal_document_number, 'the same document');
  t.same(printedOnce(rig, [{ id: 'cl-away-0', i: 0, result: again }]), [], 'printed once');
});
