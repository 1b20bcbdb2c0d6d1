/**
 * Settings from the web page: what the browser may see, how a form (or a restored backup) becomes the next
 * configuration, and which changes take effect at once or need a restart.
 */
import { parseConfig, REDACTED, type Config, type ConfigOverrides } from '../config/index.ts';
import { DEFAULT_DEVICE_ID } from '../config/devices.ts';

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
  if (Array.isArray(out.devices)) for (const d of out.devices) if (d && typeof d === 'object' && d.password !== undefined) d.password = REDACTED;
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
    // a register of a pool keeps its password by its id (the list may have been reordered or grown)
    const oldDevices: Json[] = Array.isArray(cur.devices) ? cur.devices : cur.device && typeof cur.device === 'object' ? [{ ...cur.device, id: cur.device.id ?? DEFAULT_DEVICE_ID }] : [];
    if (Array.isArray(next.devices)) {
      for (const d of next.devices as Json[]) {
        if (!d || d.password !== REDACTED) continue;
        const old = oldDevices.find((o) => o && o.id === d.id);
        if (old?.password === undefined) delete d.password;
        else d.password = old.password;
      }
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

/**
 * The settings page's view of one register: its entry of `devices` (by id; the first without one) copied to
 * `config.device`, with where it lives in the file (`devices.<i>`, or `device` for a single register).
 */
export function registerView(cfg: Json, device?: string): { config: Json; register: { id: string; path: string } | null } {
  if (Array.isArray(cfg.devices) && cfg.devices.length > 0) {
    const i = device === undefined ? 0 : cfg.devices.findIndex((x: Json) => x && x.id === device);
    if (i < 0) return { config: cfg, register: null };
    return { config: { ...cfg, device: structuredClone(cfg.devices[i]) }, register: { id: String(cfg.devices[i].id), path: `devices.${i}` } };
  }
  if (cfg.device && typeof cfg.device === 'object') return { config: cfg, register: { id: String(cfg.device.id ?? DEFAULT_DEVICE_ID), path: 'device' } };
  return { config: cfg, register: null };
}

/** The page's edit of a register view made a configuration again: `config.device` goes back into its `devices` entry. */
export function fromRegisterView(edited: unknown, device?: string): unknown {
  if (!edited || typeof edited !== 'object' || Array.isArray(edited)) return edited;
  const e = edited as Json;
  if (!Array.isArray(e.devices) || !e.device || typeof e.device !== 'object') return edited;
  const id = device ?? e.device.id;
  const i = e.devices.findIndex((x: Json) => x && x.id === id);
  if (i < 0) return edited;
  const { device: reg, ...rest } = e;
  return { ...rest, devices: e.devices.map((x: Json, k: number) => (k === i ? { ...reg, id: x.id } : x)) };
}

/** the registers a configuration file lists, as far as it can be read (safe mode) */
export function registersOfRaw(raw: unknown): Array<{ id: string; name: string | null; port: string; protocol: string | null }> {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Json;
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const list: Json[] = Array.isArray(r.devices) ? r.devices.filter((x: unknown) => x && typeof x === 'object') : r.device && typeof r.device === 'object' ? [{ ...r.device, id: r.device.id ?? DEFAULT_DEVICE_ID }] : [];
  return list.filter((x) => typeof x.id === 'string').map((x) => ({ id: x.id as string, name: str(x.name), port: str(x.port) ?? '', protocol: str(x.protocol) }));
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
