/**
 * The results a store client saw, indexed by external_id as they arrive. StoreClient.results(id) scans every
 * message it ever got, so a campaign that asks about each open receipt every few milliseconds (or a wait
 * predicate over every id, run on each message) costs O(receipts × messages): with thousands of receipts the
 * harness ate the CPU the in-process gateway needed, and a full run crawled into its deadline.
 */
import type { ResultMsg, StoreClient } from '../../test/helpers/rig.ts';

export class Results {
  private readonly byId = new Map<string, ResultMsg[]>();
  private readonly topic: string;
  /** results without an external_id (payloads the gateway could not take one from) */
  readonly anonymous: ResultMsg[] = [];
  /** every result, in arrival order */
  readonly all: ResultMsg[] = [];

  constructor(store: StoreClient) {
    this.topic = `${store.base}/result`;
    for (const m of store.messages) this.add(m.topic, m.body);
    store.client.on('message', (topic, payload) => {
      if (topic !== this.topic) return;
      let body: unknown;
      try {
        body = JSON.parse(payload.toString());
      } catch {
        return;
      }
      this.add(topic, body);
    });
  }

  private add(topic: string, body: any): void {
    if (topic !== this.topic || typeof body !== 'object' || body === null) return;
    const r = body as ResultMsg;
    this.all.push(r);
    if (typeof r.external_id !== 'string') {
      this.anonymous.push(r);
      return;
    }
    const list = this.byId.get(r.external_id);
    if (list) list.push(r);
    else this.byId.set(r.external_id, [r]);
  }

  of(externalId: string): ResultMsg[] {
    return this.byId.get(externalId) ?? [];
  }

  /** the first result that is not `accepted` (StoreClient.final) */
  final(externalId: string): ResultMsg | undefined {
    return this.of(externalId).find((r) => r.status !== 'accepted');
  }

  has(externalId: string, status: ResultMsg['status']): boolean {
    return this.of(externalId).some((r) => r.status === status);
  }
}
