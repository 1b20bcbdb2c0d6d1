/**
 * P1 durable ingest: receipts per second the gateway takes from a real mosquitto (validated, synced to LevelDB,
 * acknowledged), against the reference consumer (reference-consumer.mjs: MQTT.js + one synced LevelDB put + PUBACK
 * per message) on the same broker, disk and receipts.
 *
 * Both consumers are measured the same way: a persistent session is created, the consumer goes away, N receipts are
 * published to the broker and queued there, then the consumer comes back and drains them, so the publisher's speed
 * is not part of it. The gateway's time runs from its retained `online` to the N-th `accepted` result reaching the
 * store (it publishes `accepted` after the PUBACK, so this is slightly pessimistic); the reference's from its CONNACK
 * to its N-th synced put. Best of `rounds`, the two alternating.
 *
 * The register is present but busy (the emulator takes 10 minutes to print the first document), as when receipts
 * pour in while the register prints: the dispatcher holds one job and the rest is pure ingest.
 */
import { join } from 'node:path';
import * as h from './harness.ts';
import { fmt, type Section } from './table.ts';

export interface IngestResult {
  section: Section;
  /** the reference consumer's CPU per message, ms */
  referenceCpuMs: number;
  /** the gateway's CPU per receipt while only ingesting, ms */
  ingestCpuMs: number;
}

export async function ingest(o: { receipts: number; rounds: number }): Promise<IngestResult> {
  const n = o.receipts;
  const broker = await h.broker();
  const gw: Array<{ rate: number; cpuMs: number }> = [];
  const ref: Array<{ rate: number; cpuMs: number }> = [];
  const publisher = await h.storeClient(broker.url, 'kkt/bench-p1');
  const arrivals = new h.Arrivals(publisher);
  const bodies = (prefix: string): string[] => Array.from({ length: n }, (_, i) => h.receiptJson(`${prefix}-${i}`));
  const preload = async (topic: string, payloads: string[]): Promise<void> => {
    await Promise.all(payloads.map((p) => publisher.client.publishAsync(topic, p, { qos: 1 })));
  };

  for (let round = 1; round <= o.rounds; round++) {
    // the reference consumer
    {
      const dir = h.tempDir('p1-ref');
      const topic = 'bench/reference';
      await (await h.spawnReference(broker.url, topic, join(dir, 'db'), 'subscribe')).line('ms');
      await preload(topic, bodies(`p1-ref-${round}`));
      const r = await h.spawnReference(broker.url, topic, join(dir, 'db'), String(n)).line('ms');
      ref.push({ rate: (n * 1000) / Number(r.ms), cpuMs: Number(r.cpuMs) / n });
      h.progress(`P1 round ${round}: reference ${fmt.int(ref.at(-1)!.rate)} msg/s`);
    }
    // the gateway
    {
      const reg = await h.register({ emulator: { link: { printMs: 600_000 } } });
      const dir = h.tempDir('p1-gw');
      const config = h.gatewayConfig(dir, broker.url, reg.pty.path, { gateway_id: 'bench-p1' });
      let g = h.spawnGateway(config, dir);
      await h.waitOnline(arrivals, g.spawnedAt, g);
      await g.stop();
      const prefix = `p1-gw-${round}`;
      await preload(`${config.mqtt.base_topic}/receipt`, bodies(prefix));
      arrivals.clear();
      g = h.spawnGateway(config, dir);
      const t0 = await h.waitOnline(arrivals, g.spawnedAt, g);
      const cpu0 = h.cpuMs(g.pid);
      await arrivals.until(() => arrivals.accepted.size >= n, `${n} accepted results`, 60_000 + n * 20);
      const cpu = h.cpuMs(g.pid) - cpu0;
      const t1 = Math.max(...[...arrivals.accepted].filter(([id]) => id.startsWith(prefix)).map(([, t]) => t));
      gw.push({ rate: (n * 1000) / (t1 - t0), cpuMs: cpu / n });
      h.progress(`P1 round ${round}: gateway ${fmt.int(gw.at(-1)!.rate)} receipts/s`);
      // the register is still "printing" the first document: no graceful stop would end before it does
      g.child.kill('SIGKILL');
      await g.exited;
      await reg.close();
    }
  }
  const best = (xs: Array<{ rate: number; cpuMs: number }>): { rate: number; cpuMs: number } => xs.reduce((a, b) => (b.rate > a.rate ? b : a));
  const g = best(gw);
  const r = best(ref);
  const ratio = g.rate / r.rate;
  return {
    referenceCpuMs: r.cpuMs,
    ingestCpuMs: g.cpuMs,
    section: {
      rows: [{ id: 'P1', figure: 'durable ingest', value: `${fmt.int(g.rate)} receipts/s`, baseline: `${fmt.int(r.rate)} msg/s reference`, ratio: fmt.ratio(ratio), goal: '≥ 0.80× reference', ok: ratio >= 0.8 }],
      notes: [
        `P1: ${n.toLocaleString('en-US')} receipts queued on mosquitto, then drained; best of ${o.rounds} round(s): gateway ${gw.map((x) => fmt.int(x.rate)).join(', ')} receipts/s, reference ${ref.map((x) => fmt.int(x.rate)).join(', ')} msg/s. CPU per message while ingesting: gateway ${fmt.num(g.cpuMs, 2)} ms, reference ${fmt.num(r.cpuMs, 2)} ms.`,
      ],
    },
  };
}
