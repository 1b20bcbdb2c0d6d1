/** Helpers of the fleet monitor tests: metrics parsing, a webhook receiver on loopback, simulated gateways. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';

export async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `name{a="x",b="y"} value` lines → value by `name{a="x",b="y"}` (labels as printed) */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{[^}]*\})?)\s+(\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

export function series(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

/** fetches /metrics and returns one series' value (undefined when absent) */
export async function metric(url: string, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return parseMetrics(text).get(series(name, labels));
}

export interface WebhookReceiver {
  url: string;
  bodies: any[];
  /** requests answered (including the failed ones) */
  requests: number;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 that stores every JSON body; the first `failFirst` requests get a 503. */
export async function startWebhook(failFirst = 0): Promise<WebhookReceiver> {
  const r: WebhookReceiver = { url: '', bodies: [], requests: 0, close: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      r.requests++;
      if (r.requests <= failFirst) {
        res.writeHead(503).end();
        return;
      }
      try {
        r.bodies.push(JSON.parse(data));
      } catch {
        r.bodies.push({ unparsable: data });
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return r;
}

/** A health message as a gateway publishes it (src/gateway/health.ts), with the parts a test changes. */
export function simHealth(id: string, o: { link?: 'up' | 'down'; paper?: string; depth?: number; oldest?: number | null; hoursOpen?: number; daysLeft?: number; unsent?: number; unsentDays?: number; zAt?: string } = {}): Record<string, unknown> {
  return {
    gateway_id: id,
    version: '0.1.0',
    time: new Date().toISOString(),
    uptime_s: 100,
    queue: { depth: o.depth ?? 0, oldest_age_s: o.oldest ?? null, outbox: 0, blocked: null },
    mqtt: { connected: true, broker: 'mqtt://sim' },
    register: { link: o.link ?? 'up', since: null, last_ok: null, protocol: 'shtrih', protocol_setting: 'shtrih', model: 'SIM-01', serial: `S-${id}`, error: o.link === 'down' ? 'no answer' : null },
    registration: null,
    zreport_check: o.zAt ? { shift_number: 7, fiscal_document_number: 70, figures_source: 'register', mismatch: [], at: o.zAt } : null,
    paper: o.paper ?? 'ok',
    cover_open: false,
    shift: { state: 'open', number: 8, receipts: 3 },
    fn: { number: '9999078900001234', last_fd: 100, warnings: 0, expiry: '2027-06-01', unsent_count: o.unsent ?? 0, unsent_since: null },
    fn_watch: {
      expiry: '2027-06-01',
      days_left: o.daysLeft ?? 200,
      expiry_level: 'ok',
      warnings: { replace_in_3_days: false, replace_in_30_days: false, memory_90_percent: false, ofd_timeout: false },
      memory_level: 'ok',
      ofd: { unsent_count: o.unsent ?? 0, oldest_unsent: null, oldest_age_days: o.unsentDays ?? 0, days_before_block: null, level: 'ok', warn_days: 3, critical_days: 20 },
    },
    clock: { register: null, host: null, drift_s: 0, host_synced: true, max_drift_s: 120 },
    shift_clock: { opened_at: '2026-12-02T08:00', hours_open: o.hoursOpen ?? 2, hours_left_24h: 22, next_close: '2026-12-02T23:50' },
  };
}

/** A simulated gateway: a plain MQTT client with the gateway's last will, publishing retained state and health. */
export class SimGateway {
  private constructor(readonly id: string, readonly base: string, readonly client: MqttClient) {}

  static async connect(url: string, id: string, base = `kkt/${id}`): Promise<SimGateway> {
    const client = await mqtt.connectAsync(url, {
      clientId: `sim-${id}-${process.pid}`,
      clean: true,
      reconnectPeriod: 0,
      will: { topic: `${base}/state`, payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: true },
    });
    const g = new SimGateway(id, base, client);
    await client.publishAsync(`${base}/state`, JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
    return g;
  }

  async health(h: Record<string, unknown>): Promise<void> {
    await this.client.publishAsync(`${this.base}/health`, JSON.stringify(h), { qos: 1, retain: true });
  }

  async zreport(z: Record<string, unknown>): Promise<void> {
    await this.client.publishAsync(`${this.base}/zreport`, JSON.stringify(z), { qos: 1 });
  }

  /** the connection dropped without DISCONNECT: the broker publishes the last will */
  kill(): void {
    this.client.stream.destroy();
    this.client.end(true);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }
}

/** Records every message on `<base>/fleet/alert/#` (retained ones marked). */
export class AlertWatcher {
  readonly messages: Array<{ topic: string; body: any; retain: boolean }> = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      let body: unknown;
      try {
        body = JSON.parse(payload.toString());
      } catch {
        body = payload.toString();
      }
      this.messages.push({ topic, body, retain: packet.retain });
    });
  }

  static async connect(url: string, base = 'kkt'): Promise<AlertWatcher> {
    const client = await mqtt.connectAsync(url, { clientId: `alert-watch-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, clean: true });
    const w = new AlertWatcher(client);
    await client.subscribeAsync(`${base}/fleet/alert/#`, { qos: 1 });
    return w;
  }

  /** the alert names of every list published for a gateway, in order */
  lists(id: string): string[][] {
    return this.messages.filter((m) => m.topic.endsWith(`/fleet/alert/${id}`)).map((m) => ((m.body?.alerts ?? []) as Array<{ alert: string }>).map((a) => a.alert));
  }

  latest(id: string): string[] | undefined {
    const l = this.lists(id);
    return l[l.length - 1];
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }
}

/** how many times `name` went from absent to present (raised) and back (cleared) across a sequence of lists */
export function transitions(lists: string[][], name: string): { raised: number; cleared: number } {
  let on = false;
  let raised = 0;
  let cleared = 0;
  for (const l of lists) {
    const now = l.includes(name);
    if (now && !on) raised++;
    if (!now && on) cleared++;
    on = now;
  }
  return { raised, cleared };
}
