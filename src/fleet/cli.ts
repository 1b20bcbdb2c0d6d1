/**
 * `kkt-gateway fleet` (the fleet monitor) and `kkt-gateway request` (one command to one gateway, its response
 * printed). Both parse their own flags (main.ts hands them the rest of the command line).
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import { createLogger } from '../log.ts';
import { exitAfterDrain } from '../system/exit.ts';
import { DEFAULT_THRESHOLDS, type Thresholds, type WebhookOptions } from './alerts.ts';
import { buildMonitor, parseListen, type MonitorOptions } from './monitor.ts';

export const FLEET_USAGE = `  kkt-gateway fleet --mqtt-url URL [--base kkt] [--listen HOST:PORT] [--config FILE]
                                    the fleet monitor: /metrics, alerts, the fleet page
  kkt-gateway request --mqtt-url URL [--base kkt] [--timeout S] <gateway_id> <command> [json]
                                    send one command to a gateway and print its response`;

/** A bad fleet configuration: one line for the operator. */
export class FleetConfigError extends Error {
  readonly code = 'FLEET_CONFIG';
}

export interface FleetFileConfig {
  mqtt_url?: string;
  base?: string;
  listen?: string;
  mqtt?: { username?: string; password?: string; client_id?: string; ca?: string; cert?: string; key?: string; reject_unauthorized?: boolean; protocol_version?: 4 | 5 };
  thresholds?: Partial<Thresholds>;
  webhook?: string | WebhookOptions;
  auth_file?: string;
  require_login?: boolean;
  metrics_token?: string;
  log_level?: string;
}

const THRESHOLD_KEYS = Object.keys(DEFAULT_THRESHOLDS) as Array<keyof Thresholds>;

/** Checks a parsed fleet configuration file; throws FleetConfigError naming the first problem. */
export function checkFleetConfig(raw: unknown, file = 'the fleet configuration'): FleetFileConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new FleetConfigError(`${file}: must be a JSON object`);
  const c = raw as Record<string, unknown>;
  const known = new Set(['mqtt_url', 'base', 'listen', 'mqtt', 'thresholds', 'webhook', 'auth_file', 'require_login', 'metrics_token', 'log_level']);
  for (const k of Object.keys(c)) if (!known.has(k)) throw new FleetConfigError(`${file}: unknown setting "${k}"`);
  for (const k of ['mqtt_url', 'base', 'listen', 'auth_file', 'metrics_token', 'log_level'] as const) {
    if (c[k] !== undefined && typeof c[k] !== 'string') throw new FleetConfigError(`${file}: "${k}" must be a string`);
  }
  if (c.listen !== undefined) {
    try {
      parseListen(c.listen as string);
    } catch (err) {
      throw new FleetConfigError(`${file}: ${(err as Error).message}`);
    }
  }
  if (c.thresholds !== undefined) {
    const t = c.thresholds as Record<string, unknown>;
    if (!t || typeof t !== 'object' || Array.isArray(t)) throw new FleetConfigError(`${file}: "thresholds" must be an object`);
    for (const [k, v] of Object.entries(t)) {
      if (!(THRESHOLD_KEYS as string[]).includes(k)) throw new FleetConfigError(`${file}: unknown threshold "${k}" (known: ${THRESHOLD_KEYS.join(', ')})`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new FleetConfigError(`${file}: threshold "${k}" must be a number ≥ 0`);
    }
  }
  if (c.webhook !== undefined) {
    const w = c.webhook;
    const url = typeof w === 'string' ? w : (w as { url?: unknown } | null)?.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new FleetConfigError(`${file}: "webhook" must be an http(s) URL or {"url": …}`);
  }
  if (c.mqtt !== undefined && (!c.mqtt || typeof c.mqtt !== 'object' || Array.isArray(c.mqtt))) throw new FleetConfigError(`${file}: "mqtt" must be an object`);
  if (c.require_login !== undefined && typeof c.require_login !== 'boolean') throw new FleetConfigError(`${file}: "require_login" must be true or false`);
  return c as FleetFileConfig;
}

function mqttOptionsOf(m: FleetFileConfig['mqtt'] = {}): IClientOptions {
  const o: IClientOptions = {};
  if (m.username !== undefined) o.username = m.username;
  if (m.password !== undefined) o.password = m.password;
  if (m.client_id !== undefined) o.clientId = m.client_id;
  if (m.ca) o.ca = readFileSync(m.ca);
  if (m.cert) o.cert = readFileSync(m.cert);
  if (m.key) o.key = readFileSync(m.key);
  if (m.reject_unauthorized !== undefined) o.rejectUnauthorized = m.reject_unauthorized;
  if (m.protocol_version !== undefined) o.protocolVersion = m.protocol_version;
  return o;
}

async function readConfigFile(file: string): Promise<FleetFileConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new FleetConfigError(`${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FleetConfigError(`${file}: not JSON (${(err as Error).message})`);
  }
  return checkFleetConfig(raw, file);
}

export async function fleetCommand(args: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args, options: { 'mqtt-url': { type: 'string' }, base: { type: 'string' }, listen: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\nUsage:\n${FLEET_USAGE}\n`);
    return 64;
  }
  if (values.help) {
    process.stdout.write(`Usage:\n${FLEET_USAGE}\n`);
    return 0;
  }
  let cfg: FleetFileConfig = {};
  try {
    if (typeof values.config === 'string') cfg = await readConfigFile(values.config);
    if (typeof values.listen === 'string') parseListen(values.listen);
  } catch (err) {
    process.stderr.write(`kkt-gateway fleet: ${(err as Error).message}\n`);
    return 78; // EX_CONFIG
  }
  const mqttUrl = (values['mqtt-url'] as string | undefined) ?? cfg.mqtt_url;
  if (!mqttUrl) {
    process.stderr.write(`kkt-gateway fleet: give --mqtt-url URL (or "mqtt_url" in --config)\n\nUsage:\n${FLEET_USAGE}\n`);
    return 64;
  }
  const listen = (values.listen as string | undefined) ?? cfg.listen ?? '127.0.0.1:9464';
  const logger = createLogger({ level: cfg.log_level ?? 'info', secrets: [cfg.mqtt?.password, cfg.metrics_token].filter((s): s is string => typeof s === 'string' && s !== '') });
  const opts: MonitorOptions = {
    mqttUrl,
    base: (values.base as string | undefined) ?? cfg.base ?? 'kkt',
    listen,
    mqttOptions: mqttOptionsOf(cfg.mqtt),
    logger,
    authFile: path.resolve(cfg.auth_file ?? 'fleet-auth.json'),
    ...(cfg.thresholds ? { thresholds: cfg.thresholds } : {}),
    ...(cfg.webhook ? { webhook: cfg.webhook } : {}),
    ...(cfg.require_login ? { requireLogin: true } : {}),
    ...(cfg.metrics_token ? { metricsToken: cfg.metrics_token } : {}),
  };
  const monitor = buildMonitor(opts);
  try {
    await monitor.start();
  } catch (err) {
    process.stderr.write(`kkt-gateway fleet: ${(err as Error).message}\n`);
    await monitor.stop();
    return 69; // EX_UNAVAILABLE
  }
  process.stdout.write(`fleet monitor: ${monitor.url}/ (metrics: ${monitor.url}/metrics), watching ${opts.base}/+/state|health|zreport on ${mqttUrl}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await monitor.stop();
  logger.info('fleet monitor stopped');
  return 0;
}

export interface RequestOutcome {
  code: number;
  /** the response JSON, as received */
  response?: Record<string, unknown>;
  error?: string;
}

/**
 * Sends one command on `<base>/<gateway_id>/request/<command>` with a fresh transaction and waits for the response
 * with that transaction on `<base>/<gateway_id>/response/<command>`. Exit codes: 0 ok, 1 the gateway answered with
 * an error, 2 no answer within the timeout, 69 the broker could not be reached.
 */
export async function sendRequest(o: { mqttUrl: string; base: string; gatewayId: string; command: string; params: Record<string, unknown>; timeoutMs: number; mqttOptions?: IClientOptions }): Promise<RequestOutcome> {
  const prefix = `${o.base}/${o.gatewayId}`;
  const transaction = typeof o.params.transaction === 'string' ? o.params.transaction : `cli-${randomUUID()}`;
  let client;
  try {
    client = await mqtt.connectAsync(o.mqttUrl, { clean: true, reconnectPeriod: 0, connectTimeout: Math.min(o.timeoutMs, 30_000), clientId: `kkt-request-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, ...o.mqttOptions });
  } catch (err) {
    return { code: 69, error: `cannot connect to ${o.mqttUrl}: ${(err as Error).message}` };
  }
  try {
    const responseTopic = `${prefix}/response/${o.command}`;
    const got = new Promise<Record<string, unknown>>((resolve) => {
      client.on('message', (topic, payload) => {
        if (topic !== responseTopic) return;
        try {
          const body = JSON.parse(payload.toString()) as Record<string, unknown>;
          if (body && body.transaction === transaction) resolve(body);
        } catch {
          /* not a response of ours */
        }
      });
    });
    await client.subscribeAsync(responseTopic, { qos: 1 });
    await client.publishAsync(`${prefix}/request/${o.command}`, JSON.stringify({ ...o.params, transaction }), { qos: 1 });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), o.timeoutMs)));
    const response = await Promise.race([got, timeout]);
    clearTimeout(timer);
    if (!response) return { code: 2, error: `no response from ${o.gatewayId} to ${o.command} within ${Math.round(o.timeoutMs / 1000)} s (is it online? ${prefix}/state)` };
    return { code: response.status === 'ok' ? 0 : 1, response };
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

export async function requestCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { 'mqtt-url': { type: 'string' }, base: { type: 'string' }, timeout: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\nUsage:\n${FLEET_USAGE}\n`);
    return 64;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`Usage:\n${FLEET_USAGE}\n`);
    return 0;
  }
  let cfg: FleetFileConfig = {};
  if (values.config) {
    try {
      cfg = await readConfigFile(values.config);
    } catch (err) {
      process.stderr.write(`kkt-gateway request: ${(err as Error).message}\n`);
      return 78;
    }
  }
  const mqttUrl = values['mqtt-url'] ?? cfg.mqtt_url;
  const [gatewayId, command, json, ...extra] = positionals;
  if (!mqttUrl || !gatewayId || !command || extra.length > 0) {
    process.stderr.write(`kkt-gateway request: give --mqtt-url URL, a gateway id and a command (and optionally one JSON argument)\n\nUsage:\n${FLEET_USAGE}\n`);
    return 64;
  }
  if (!/^[^/#+]+$/.test(gatewayId) || !/^[^/#+]+$/.test(command)) {
    process.stderr.write('kkt-gateway request: the gateway id and the command cannot contain "/", "#" or "+"\n');
    return 64;
  }
  let params: Record<string, unknown> = {};
  if (json !== undefined) {
    try {
      const v: unknown = JSON.parse(json);
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('must be a JSON object');
      params = v as Record<string, unknown>;
    } catch (err) {
      process.stderr.write(`kkt-gateway request: the parameters ${(err as Error).message.startsWith('must') ? (err as Error).message : `are not JSON: ${(err as Error).message}`}\n`);
      return 64;
    }
  }
  const timeoutS = values.timeout === undefined ? 30 : Number(values.timeout);
  if (!(timeoutS > 0)) {
    process.stderr.write('kkt-gateway request: --timeout takes seconds > 0\n');
    return 64;
  }
  const out = await sendRequest({ mqttUrl, base: values.base ?? cfg.base ?? 'kkt', gatewayId, command, params, timeoutMs: timeoutS * 1000, mqttOptions: mqttOptionsOf(cfg.mqtt) });
  if (out.response) process.stdout.write(`${JSON.stringify(out.response, null, 2)}\n`);
  if (out.error) process.stderr.write(`kkt-gateway request: ${out.error}\n`);
  else if (out.code !== 0) process.stderr.write(`kkt-gateway request: the gateway answered with an error\n`);
  await exitAfterDrain(out.code);
  return out.code;
}
