/**
 * The fleet monitor: one MQTT subscription to every gateway's `state`, `health` and `zreport` under `<base>/+/…`,
 * the latest of each kept in memory (rebuilt from the retained messages at start), served as Prometheus metrics
 * (`metricsText()`, `/metrics`), alert rules (src/fleet/alerts.ts) published retained on
 * `<base>/fleet/alert/<gateway_id>` and posted to an optional webhook, and a page (src/fleet/server.ts).
 *
 * `buildMonitor` connects and listens to nothing; `start()` does both, `stop()` undoes them.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Gauge, Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Logger } from '../log.ts';
import { AlertEngine, Webhook, type AlertEvent, type Thresholds, type WebhookOptions } from './alerts.ts';
import { FleetState, deviceOf, figures, type Figures, type GatewayRecord, type Kind } from './state.ts';

export interface MonitorOptions {
  mqttUrl: string;
  /** the topic prefix before `<gateway_id>` (default "kkt") */
  base?: string;
  /** "HOST:PORT" for /metrics and the page; absent: nothing listens (metricsText() still works) */
  listen?: string;
  /** MQTT options beyond the URL (username, password, ca, clientId…) */
  mqttOptions?: IClientOptions;
  thresholds?: Partial<Thresholds>;
  /** a URL, or the webhook's options; absent: no webhook */
  webhook?: string | WebhookOptions;
  /** where the page's password hash lives (needed when `listen` is beyond loopback); default ./fleet-auth.json */
  authFile?: string;
  /** require a login even on loopback */
  requireLogin?: boolean;
  /** a bearer token /metrics then requires (default: /metrics is open) */
  metricsToken?: string;
  logger?: Logger;
  now?: () => number;
  /** how often time-based alert rules (offline for N minutes…) are evaluated, ms (default 5 s) */
  evaluateMs?: number;
  /** after subscribing, how long retained messages are awaited before the first alert evaluation, ms (default 1 s) */
  settleMs?: number;
  /** Z-reports kept per gateway (default 10) */
  zreportsKept?: number;
  /** login/setup attempts per address per minute on the page (default 5) */
  loginPerMinute?: number;
}

export interface GatewaySummary {
  gateway_id: string;
  state: 'online' | 'offline' | null;
  last_seen: string;
  alerts: Array<{ alert: string; severity: string; message: string; since: string }>;
  /** 2: a critical alert, 1: a warning, 0: none (the page sorts problems first by this) */
  problem: number;
  queue_depth: number | null;
  register_up: boolean | null;
  paper_ok: boolean | null;
  shift_open_hours: number | null;
  fn_days_left: number | null;
  ofd_unsent: number | null;
  ofd_oldest_days: number | null;
  zreport_last: string | null;
  model: string | null;
  version: string | null;
}

export interface Monitor {
  readonly state: FleetState;
  readonly alerts: AlertEngine;
  readonly webhook: Webhook | undefined;
  /** the page and /metrics (built by start() when `listen` is given, else by app()) */
  app(): Promise<FastifyInstance>;
  start(): Promise<void>;
  stop(): Promise<void>;
  metricsText(): Promise<string>;
  /** the URL the page listens on, after start() with `listen` */
  readonly url: string | undefined;
  summaries(): GatewaySummary[];
  detail(id: string): Record<string, unknown> | undefined;
  /** evaluates every gateway's alerts now (also done on every message and every evaluateMs) */
  evaluateAll(): void;
  /** resolves once subscribed and the retained messages had their settle time */
  readonly ready: Promise<void>;
}

const TOPIC_KINDS: readonly Kind[] = ['state', 'health', 'zreport'];

/** "HOST:PORT" (IPv6 in brackets) → parts; throws a clear error when unusable */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new TypeError(`--listen takes HOST:PORT (e.g. 127.0.0.1:9464), not "${s}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** loopback addresses: the page may be open there (only this machine reaches it) */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export function buildMonitor(o: MonitorOptions): Monitor {
  const base = (o.base ?? 'kkt').replace(/\/+$/, '');
  const now = o.now ?? Date.now;
  const log: Logger = o.logger ?? pino({ level: 'silent' });
  const state = new FleetState(o.zreportsKept ?? 10);
  const alerts = new AlertEngine(o.thresholds);
  const webhookOpts = typeof o.webhook === 'string' ? { url: o.webhook } : o.webhook;
  const webhook = webhookOpts ? new Webhook(webhookOpts, (msg, extra) => log.warn({ ...extra }, msg)) : undefined;
  const alertPrefix = `${base}/fleet/alert/`;
  const silentS = alerts.thresholds.register_silent_minutes * 60;
  let client: MqttClient | undefined;
  let evalTimer: NodeJS.Timeout | undefined;
  let app: FastifyInstance | undefined;
  let url: string | undefined;
  let settled = false;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  // ---- metrics: a registry of its own; every series is computed from the state at scrape time ----------------------
  const registry = new Registry();
  const gwLabels = ['gateway_id'] as const;
  const devLabels = ['gateway_id', 'device'] as const;
  let snapshot: Array<{ g: GatewayRecord; f: Figures; device: string }> = [];
  /** one pass over the state per scrape: the first gauge's collect() takes the snapshot the others read */
  const take = (): void => {
    const t = now();
    snapshot = [...state.gateways.values()].map((g) => ({ g, f: figures(g, t, silentS), device: deviceOf(g) }));
  };
  const gauge = (name: string, help: string, labels: readonly string[], value: (f: Figures) => number | boolean | undefined, first = false): void => {
    new Gauge({
      name,
      help,
      labelNames: labels,
      registers: [registry],
      collect(this: Gauge) {
        if (first) take();
        this.reset();
        for (const { g, f, device } of snapshot) {
          const v = value(f);
          if (v === undefined) continue;
          this.set(labels.length === 1 ? { gateway_id: g.id } : { gateway_id: g.id, device }, typeof v === 'boolean' ? (v ? 1 : 0) : v);
        }
      },
    });
  };
  gauge('kkt_gateway_up', '1 when the gateway\'s state is online, 0 when offline (its last will) or unknown', gwLabels, (f) => f.up, true);
  gauge('kkt_last_seen_seconds', 'seconds since the last message from the gateway (state, health or zreport)', gwLabels, (f) => Math.round(f.lastSeenAgeS));
  gauge('kkt_queue_depth', 'receipts and commands waiting in the gateway\'s queue', gwLabels, (f) => f.queueDepth);
  gauge('kkt_queue_oldest_seconds', 'age of the oldest queued receipt, seconds (0: empty)', gwLabels, (f) => f.queueOldestS);
  gauge('kkt_register_up', '1 when the register answers the gateway', devLabels, (f) => f.registerUp);
  gauge('kkt_paper_ok', '1 when the register has paper', devLabels, (f) => f.paperOk);
  gauge('kkt_shift_open_hours', 'hours the register\'s shift has been open by its own clock (0: closed)', devLabels, (f) => f.shiftOpenHours);
  gauge('kkt_fn_days_left', 'days until the fiscal storage (FN) expires', devLabels, (f) => f.fnDaysLeft);
  gauge('kkt_ofd_unsent_documents', 'fiscal documents not yet sent to the OFD', devLabels, (f) => f.ofdUnsent);
  gauge('kkt_ofd_oldest_unsent_days', 'age of the oldest document not sent to the OFD, days (0: none)', devLabels, (f) => f.ofdOldestDays);
  gauge('kkt_zreport_last_timestamp_seconds', 'Unix time of the last Z-report (shift close)', devLabels, (f) => f.zreportLastS);

  // ---- alerts ------------------------------------------------------------------------------------------------------
  /** gateways whose list changed while the connection was down: published at the next connect */
  const unpublished = new Set<string>();
  const publishAlerts = (id: string): void => {
    if (!client?.connected) {
      unpublished.add(id);
      return;
    }
    // an empty list is published as an empty list (not a deletion): "nothing wrong" is a state a consumer can see
    client.publish(`${alertPrefix}${id}`, alerts.payload(id, now()), { qos: 1, retain: true }, (err) => {
      if (err) log.warn({ gateway_id: id, err: { message: err.message } }, 'alert list not published');
    });
  };
  const emit = (events: AlertEvent[]): void => {
    for (const e of events) {
      log[e.event === 'raised' ? 'warn' : 'info']({ gateway_id: e.gateway_id, alert: e.alert, severity: e.severity, message: e.message }, `alert ${e.event}`);
      webhook?.push(e);
    }
  };
  const evaluate = (g: GatewayRecord): void => {
    if (!settled) return;
    const events = alerts.evaluate(g, now());
    if (events.length === 0) return;
    emit(events);
    publishAlerts(g.id);
  };
  /** alert lists published by an earlier run, for gateways this run has not seen (cleared at the first evaluation) */
  const restoredOnly = new Set<string>();
  const evaluateAll = (): void => {
    if (!settled) return;
    for (const g of state.gateways.values()) evaluate(g);
    for (const id of restoredOnly) {
      // a gateway gone from the broker (its retained state deleted) while alerts stood: clear them
      if (state.gateways.has(id)) continue;
      const events = alerts.evaluate({ id, zreports: [], lastSeen: now(), state: 'online' }, now());
      emit(events);
      if (events.length > 0) publishAlerts(id);
    }
    restoredOnly.clear();
  };

  // ---- MQTT --------------------------------------------------------------------------------------------------------
  const onMessage = (topic: string, payload: Buffer, packet: { retain?: boolean }): void => {
    if (topic.startsWith(alertPrefix)) {
      // our own retained lists: taken only before the first evaluation (a restart must not raise again)
      if (!settled && packet.retain) {
        const id = topic.slice(alertPrefix.length);
        try {
          alerts.restore(id, (JSON.parse(payload.toString()) as { alerts?: unknown }).alerts);
          restoredOnly.add(id);
        } catch {
          /* not ours or damaged: ignored */
        }
      }
      return;
    }
    const rest = topic.slice(base.length + 1);
    const slash = rest.indexOf('/');
    if (slash <= 0) return;
    const id = rest.slice(0, slash);
    const kind = rest.slice(slash + 1) as Kind;
    if (!TOPIC_KINDS.includes(kind)) return;
    const g = state.ingest(id, kind, payload, now(), packet.retain === true);
    if (g && kind !== 'zreport') evaluate(g);
  };

  const subscribe = async (c: MqttClient): Promise<void> => {
    // our own alert lists first, so they are known before the gateways' retained state arrives
    await c.subscribeAsync(`${alertPrefix}+`, { qos: 1 });
    await c.subscribeAsync(TOPIC_KINDS.map((k) => `${base}/+/${k}`), { qos: 1 });
  };

  const m: Monitor = {
    state,
    alerts,
    webhook,
    ready,
    get url() {
      return url;
    },
    async app() {
      if (!app) {
        const { buildFleetApp } = await import('./server.ts');
        const listenHost = o.listen ? parseListen(o.listen).host : '127.0.0.1';
        app = await buildFleetApp({
          monitor: m,
          logger: log,
          authFile: o.authFile ?? 'fleet-auth.json',
          requireLogin: o.requireLogin === true || !isLoopback(listenHost),
          ...(o.metricsToken ? { metricsToken: o.metricsToken } : {}),
          ...(o.loginPerMinute ? { loginPerMinute: o.loginPerMinute } : {}),
          now,
        });
      }
      return app;
    },
    async start() {
      const opts: IClientOptions = {
        clientId: `kkt-fleet-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
        clean: true,
        reconnectPeriod: 1000,
        connectTimeout: 30_000,
        resubscribe: false,
        ...o.mqttOptions,
      };
      client = mqtt.connect(o.mqttUrl, opts);
      client.on('message', onMessage);
      // one line per distinct error, not one per reconnect attempt
      let lastError = '';
      client.on('error', (err) => {
        if (err.message === lastError) return;
        lastError = err.message;
        log.warn({ err: { message: err.message } }, 'fleet monitor: MQTT error');
      });
      client.on('connect', () => (lastError = ''));
      client.on('connect', () => {
        log.info({ broker: o.mqttUrl, base }, 'fleet monitor connected');
        const c = client!;
        subscribe(c).then(
          () => {
            for (const id of [...unpublished]) {
              unpublished.delete(id);
              publishAlerts(id);
            }
            if (!settled) {
              setTimeout(() => {
                settled = true;
                evaluateAll();
                // re-publish every known list once: a list retained by an earlier run may differ in its details
                for (const id of alerts.gatewaysWithAlerts()) publishAlerts(id);
                markReady();
              }, o.settleMs ?? 1000).unref();
            }
          },
          (err: Error) => log.warn({ err: { message: err.message } }, 'fleet monitor: subscribe failed'),
        );
      });
      evalTimer = setInterval(evaluateAll, o.evaluateMs ?? 5000);
      evalTimer.unref();
      if (o.listen) {
        const { host, port } = parseListen(o.listen);
        const a = await m.app();
        url = await a.listen({ host, port });
        log.info({ url }, 'fleet monitor page and /metrics listening');
      }
    },
    async stop() {
      if (evalTimer) clearInterval(evalTimer);
      webhook?.stop();
      if (app) await app.close().catch(() => undefined);
      if (client) await client.endAsync(true).catch(() => undefined);
      client = undefined;
    },
    metricsText: () => registry.metrics(),
    evaluateAll,
    summaries() {
      const t = now();
      return [...state.gateways.values()].map((g) => summary(g, alerts, t, silentS));
    },
    detail(id) {
      const g = state.get(id);
      if (!g) return undefined;
      const t = now();
      return {
        ...summary(g, alerts, t, silentS),
        state_at: g.stateAt ? new Date(g.stateAt).toISOString() : null,
        health_at: g.healthAt ? new Date(g.healthAt).toISOString() : null,
        health: g.health ?? null,
        zreports: g.zreports.map((z) => ({ received_at: new Date(z.at).toISOString(), ...z.report })),
      };
    },
  };
  return m;
}

/** registry content type for the /metrics route */
export const METRICS_CONTENT_TYPE = new Registry().contentType;

function summary(g: GatewayRecord, engine: AlertEngine, now: number, silentS: number): GatewaySummary {
  const f = figures(g, now, silentS);
  const list = engine.list(g.id);
  const reg = (g.health?.register ?? null) as Record<string, unknown> | null;
  return {
    gateway_id: g.id,
    state: g.state ?? null,
    last_seen: new Date(g.lastSeen).toISOString(),
    alerts: list.map((a) => ({ alert: a.alert, severity: a.severity, message: a.message, since: new Date(a.since).toISOString() })),
    problem: list.some((a) => a.severity === 'critical') ? 2 : list.length > 0 ? 1 : 0,
    queue_depth: f.queueDepth ?? null,
    register_up: f.registerUp ?? null,
    paper_ok: f.paperOk ?? null,
    shift_open_hours: f.shiftOpenHours ?? null,
    fn_days_left: f.fnDaysLeft ?? null,
    ofd_unsent: f.ofdUnsent ?? null,
    ofd_oldest_days: f.ofdOldestDays ?? null,
    zreport_last: f.zreportLastS !== undefined ? new Date(f.zreportLastS * 1000).toISOString() : null,
    model: typeof reg?.model === 'string' ? reg.model : null,
    version: typeof g.health?.version === 'string' ? g.health.version : null,
  };
}
