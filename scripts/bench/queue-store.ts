/**
 * A micro-benchmark of the queue store alone (src/queue/store.ts in this process, no MQTT, no gateway): accepts per
 * second on this machine's disk, sequential (one accept awaited at a time, as one MQTT message in flight would do)
 * vs concurrent (many in flight, coalesced by group commit), and how long a deep queue takes to open. The figures of
 * the real gateway are scripts/bench/index.ts (`npm run bench`); this one tells whether the store or the rest is the
 * limit. Run on the target (the Pi's SD card) for numbers that matter:
 *   node --import=tsx scripts/bench/queue-store.ts [dir] [sequentialCount] [concurrentCount] [deep]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore } from '../../src/queue/store.ts';
import type { AcceptItem } from '../../src/queue/types.ts';

const base = process.argv[2] ?? tmpdir();
const sequentialCount = Number(process.argv[3] ?? 1000);
const concurrentCount = Number(process.argv[4] ?? 20000);
const deep = Number(process.argv[5] ?? 100000);

let id = 0;
function item(): AcceptItem {
  const externalId = `bench-${id++}`;
  const items = Array.from({ length: 3 }, (_, i) => ({ name: `Товар ${i}`, price: 119.9, quantity: 2, sum: 239.8, measure: 0, payment_method: 'full_payment', payment_object: 'commodity', vat: { type: 'vat20' } }));
  const body = JSON.stringify({ operation: 'sell', external_id: externalId, timestamp: '28.11.2026 10:15:00', receipt: { client: { email: 'a@b.ru' }, company: { inn: '7700000000', sno: 'osn', payment_address: 'shop.example.ru' }, items, payments: [{ type: 1, sum: 719.4 }], total: 719.4 } });
  return { kind: 'receipt', externalId, body, outbox: { topic: 'kkt/gw/result', payload: JSON.stringify({ external_id: externalId, status: 'accepted' }) } };
}

async function withStore<T>(fn: (store: QueueStore, batches: () => number) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(base, 'bench-queue-'));
  let batches = 0;
  const store = await QueueStore.open(dir, { maxJobs: Number.MAX_SAFE_INTEGER, beforeWrite: () => void batches++ });
  try {
    return await fn(store, () => batches);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(label: string, n: number, ms: number, batches: number): void {
  console.log(`${label.padEnd(34)} ${String(n).padStart(7)} accepts  ${(ms / 1000).toFixed(2).padStart(6)} s  ${Math.round((n * 1000) / ms).toString().padStart(7)} accepts/s  ${batches} synced batches`);
}

await withStore(async (store, batches) => {
  const t0 = performance.now();
  for (let i = 0; i < sequentialCount; i++) await store.accept(item());
  report('sequential (1 in flight)', sequentialCount, performance.now() - t0, batches());
});

for (const inFlight of [16, 256]) {
  await withStore(async (store, batches) => {
    // `inFlight` producers, each awaiting its accept before the next: like that many unacknowledged MQTT messages
    const t0 = performance.now();
    let left = concurrentCount;
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (left-- > 0) await store.accept(item());
    }));
    report(`concurrent (${inFlight} in flight)`, concurrentCount, performance.now() - t0, batches());
  });
}

{
  const dir = mkdtempSync(join(base, 'bench-queue-deep-'));
  let store = await QueueStore.open(dir, { maxJobs: Number.MAX_SAFE_INTEGER });
  for (let left = deep; left > 0; left -= 1000) await Promise.all(Array.from({ length: Math.min(1000, left) }, () => store.accept(item())));
  await store.close();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  store = await QueueStore.open(dir);
  const head = await store.head();
  const openMs = performance.now() - t0;
  console.log(`open with ${store.depth()} jobs queued: ${openMs.toFixed(1)} ms (head seq ${head?.seq}), rss +${((process.memoryUsage().rss - rss0) / 1e6).toFixed(1)} MB`);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
