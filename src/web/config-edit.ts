/**
 * Settings from the web page: what the browser may see, how a form (or a restored backup) becomes the next
 * configuration, and which changes take effect at once or need a restart.
 */
import { parseConfig, REDACTED, type Config, type ConfigOverrides } from '../config/index.ts';

/**
 * Sections read at each use by the running gateway (fiscal validation, cashier, shift schedule, watch limits,
 * signing keys): changing them in place applies them at once. Everything else (broker, register port, queue store,
 * web address, data directory, log level — pino's child loggers keep the level they were made with) is read at
 * start and needs a restart.
 */
const LIVE = ['fiscal', 'shift', 'watch', 'security'] as const;

type Json = Record<string, any>;

/**
 * The configuration as the browser may see it: every secret (the register's password too) as "***". Takes a
 * validated Config or, in safe mode, whatever object the file held.
 */
export function forBrowser(cfg: Config | Json): Json {
  const out = structuredClone(cfg) as Json;
  if (out.mqtt?.password !== undefined) out.mqtt.password = REDACTED;
  if (out.device && typeof out.device === 'object' && out.device.password !== undefined) out.device.password = REDACTED;
  const keys = out.security?.signing?.keys;
  if (Array.isArray(keys)) for (const k of keys) if (k && typeof k === 'object' && k.secret !== undefined) k.secret = REDACTED;
  return out;
}

/**
 * The browser's edit made whole: a secret left as "***" keeps the current value (signing keys matched by id), then
 * validated by the configuration schema. `current` is the running Config, or in safe mode the file's object.
 * Throws ConfigError with field-level problems.
 */
export function nextConfig(edited: unknown, current: Config | Json | undefined, overrides: ConfigOverrides = {}): Config {
  const next = structuredClone(edited) as Json;
  const cur = (current ?? {}) as Json;
  if (next && typeof next === 'object' && !Array.isArray(next)) {
    const mqtt = next.mqtt as Json | undefined;
    if (mqtt?.password === REDACTED) {
      if (cur.mqtt?.password === undefined) delete mqtt.password;
      else mqtt.password = cur.mqtt.password;
    }
    const device = next.device as Json | undefined;
    if (device && device.password === REDACTED) {
      if (cur.device?.password === undefined) delete device.password;
      else device.password = cur.device.password;
    }
    const keys = next.security?.signing?.keys;
    const oldKeys: Json[] = Array.isArray(cur.security?.signing?.keys) ? cur.security.signing.keys : [];
    if (Array.isArray(keys)) {
      for (const k of keys as Json[]) {
        if (k && k.secret === REDACTED) {
          const old = oldKeys.find((o) => o && o.id === k.id);
          if (old) k.secret = old.secret;
        }
      }
    }
  }
  return parseConfig(next, overrides, typeof cur.gateway_id === 'string' && cur.gateway_id ? cur.gateway_id : undefined);
}

function leaves(v: unknown, prefix: string, out: Map<string, string>): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, c] of Object.entries(v)) leaves(c, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, JSON.stringify(v));
}

/** dotted paths whose value differs between two configurations */
export function changedPaths(a: Config, b: Config): string[] {
  const la = new Map<string, string>();
  const lb = new Map<string, string>();
  leaves(a, '', la);
  leaves(b, '', lb);
  const all = new Set([...la.keys(), ...lb.keys()]);
  return [...all].filter((k) => la.get(k) !== lb.get(k)).sort();
}

export interface ApplyReport {
  /** applied to the running gateway */
  applied: string[];
  /** saved, effective after a restart */
  restart: string[];
}

/** Applies the live sections of `next` to the running configuration object in place; says what needs a restart. */
export function applyLive(running: Config, next: Config): ApplyReport {
  const changed = changedPaths(running, next);
  const isLive = (p: string): boolean => LIVE.some((s) => p === s || p.startsWith(`${s}.`));
  const r = running as Json;
  const n = next as Json;
  for (const section of LIVE) {
    if (!changed.some((p) => p === section || p.startsWith(`${section}.`))) continue;
    const target = r[section] as Json;
    for (const k of Object.keys(target)) delete target[k];
    Object.assign(target, structuredClone(n[section]));
  }
  return { applied: changed.filter(isLive), restart: changed.filter((p) => !isLive(p)) };
}
