/** Loading, validating, overriding and atomically saving the configuration file. */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { Ajv, type ErrorObject } from 'ajv';
import { configSchema, secretPaths, type Config } from './schema.ts';
import { applyDeviceFlags, deviceProblems } from './devices.ts';

export type { Config, DeviceConfig, PoolDeviceConfig } from './schema.ts';

export interface ConfigProblem {
  /** dotted path of the field, e.g. "mqtt.url" */
  field: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[], readonly file?: string) {
    super(`invalid configuration${file ? ` in ${file}` : ''}: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Command-line overrides of the common settings. */
export interface ConfigOverrides {
  mqttUrl?: string;
  baseTopic?: string;
  /** `--device` values, each `ID=PATH` or `PATH` (src/config/devices.ts) */
  device?: string | string[];
  dataDir?: string;
  webPort?: number;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile(configSchema);

function fieldOf(e: ErrorObject): string {
  const base = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra =
    e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty
    : e.keyword === 'additionalProperties' ? (e.params as { additionalProperty: string }).additionalProperty
    : '';
  return [base, extra].filter(Boolean).join('.') || '(root)';
}

function messageOf(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return 'unknown setting';
  if (e.keyword === 'enum') return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return e.message ?? e.keyword;
}

function applyOverrides(raw: Record<string, any>, o: ConfigOverrides): void {
  const section = (name: string): Record<string, any> => (raw[name] ??= {});
  if (o.mqttUrl !== undefined) section('mqtt').url = o.mqttUrl;
  if (o.baseTopic !== undefined) section('mqtt').base_topic = o.baseTopic;
  if (o.device !== undefined) applyDeviceFlags(raw, Array.isArray(o.device) ? o.device : [o.device]);
  if (o.dataDir !== undefined) raw.data_dir = o.dataDir;
  if (o.webPort !== undefined) section('web').port = o.webPort;
}

function fillIds(cfg: Config, hostname: string): void {
  if (!cfg.gateway_id) cfg.gateway_id = hostname.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64) || 'kkt';
  cfg.mqtt.client_id = cfg.mqtt.client_id.replace('{{id}}', cfg.gateway_id);
  cfg.mqtt.base_topic = cfg.mqtt.base_topic.replace('{{id}}', cfg.gateway_id);
}

/**
 * Validates a parsed configuration object (defaults applied in place on a copy) and returns it typed.
 * Throws ConfigError naming every bad field.
 */
export function parseConfig(input: unknown, overrides: ConfigOverrides = {}, hostname = os.hostname(), file?: string): Config {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError([{ field: '(root)', message: 'must be a JSON object' }], file);
  }
  const raw = structuredClone(input) as Record<string, any>;
  applyOverrides(raw, overrides);
  const valid = validate(raw);
  const problems = [...(valid ? [] : (validate.errors ?? []).map((e) => ({ field: fieldOf(e), message: messageOf(e) }))), ...deviceProblems(raw)];
  if (problems.length > 0) throw new ConfigError(problems, file);
  const cfg = raw as unknown as Config;
  fillIds(cfg, hostname);
  if (cfg.mqtt.reconnect_min_ms > cfg.mqtt.reconnect_max_ms) {
    throw new ConfigError([{ field: 'mqtt.reconnect_min_ms', message: 'must not exceed mqtt.reconnect_max_ms' }], file);
  }
  return cfg;
}

/** data_dir when the file and the flags leave it unset: systemd's $STATE_DIRECTORY (its first entry), else undefined (→ ./data). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const first = env.STATE_DIRECTORY?.split(':')[0];
  return first ? first : undefined;
}

/** Reads and validates the configuration file; a missing file is treated as `{}` (then only the port is missing). */
export async function loadConfig(file: string, overrides: ConfigOverrides = {}, hostname = os.hostname(), env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text = '{}';
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ field: '(root)', message: `not valid JSON: ${(err as Error).message}` }], file);
  }
  const stateDir = defaultDataDir(env);
  if (stateDir && overrides.dataDir === undefined && typeof parsed === 'object' && parsed !== null && (parsed as Record<string, unknown>).data_dir === undefined) {
    overrides = { ...overrides, dataDir: stateDir };
  }
  return parseConfig(parsed, overrides, hostname, file);
}

/** Writes a file so that a power cut leaves either the old or the new content: temp file, fsync, rename, fsync dir. */
export async function writeFileAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await fs.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  const dh = await fs.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export async function saveConfig(file: string, cfg: Config): Promise<void> {
  parseConfig(cfg, {}, cfg.gateway_id);
  await writeFileAtomic(file, JSON.stringify(cfg, null, 2) + '\n');
}

export const REDACTED = '***';

/** Every (holder object, key) where a secret of `cfg` lives. */
function secretSlots(cfg: unknown): Array<[Record<string, unknown>, string]> {
  const out: Array<[Record<string, unknown>, string]> = [];
  const walk = (node: unknown, parts: string[]): void => {
    if (node === null || typeof node !== 'object') return;
    const [head, ...rest] = parts;
    if (head === undefined) return;
    const isArray = head.endsWith('[]');
    const key = isArray ? head.slice(0, -2) : head;
    const child = (node as Record<string, unknown>)[key];
    if (rest.length === 0) {
      if (child !== undefined) out.push([node as Record<string, unknown>, key]);
    } else if (isArray && Array.isArray(child)) {
      for (const el of child) walk(el, rest);
    } else walk(child, rest);
  };
  for (const p of secretPaths) walk(cfg, p.split('.'));
  return out;
}

/** A deep copy with every secret replaced by "***" (absent secrets stay absent). */
export function redactConfig(cfg: Config): Config {
  const out = structuredClone(cfg);
  for (const [holder, key] of secretSlots(out)) holder[key] = REDACTED;
  return out;
}

/** The configured secrets' values (for masking free text in logs and for tests that grep outputs). */
export function secretValues(cfg: Config): string[] {
  return secretSlots(cfg)
    .map(([holder, key]) => holder[key])
    .filter((v): v is string => typeof v === 'string' && v.length > 0);
}

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.KKT_GATEWAY_CONFIG ?? (env.CONFIGURATION_DIRECTORY ? path.join(env.CONFIGURATION_DIRECTORY, 'config.json') : './config.json');
}
