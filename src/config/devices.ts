/**
 * The registers of a configuration: `device` (one register, a pool of one) or `devices` (several), as one list with
 * ids, and the command line's `--device ID=PATH` / `--device PATH` (repeatable) applied to it.
 */
import type { Config, DeviceConfig, PoolDeviceConfig } from './schema.ts';

/** the id of the register of a single `device` and the stem of generated ids (`kkt1`, `kkt2`, …) */
export const DEFAULT_DEVICE_ID = 'kkt1';
export const generatedId = (index: number): string => `kkt${index + 1}`;

/** every register of the configuration, in order, each with its id (the first of a pool is the «main» one) */
export function registersOf(cfg: Pick<Config, 'device' | 'devices'>): PoolDeviceConfig[] {
  if (cfg.devices && cfg.devices.length > 0) return cfg.devices;
  if (cfg.device) return [{ ...cfg.device, id: cfg.device.id ?? DEFAULT_DEVICE_ID }];
  return [];
}

/** problems of the register list that the schema cannot say: neither or both forms, repeated ids or ports */
export function deviceProblems(raw: Record<string, unknown>): Array<{ field: string; message: string }> {
  const hasOne = raw.device !== undefined;
  const list = Array.isArray(raw.devices) ? (raw.devices as Array<Record<string, unknown>>) : undefined;
  if (!hasOne && !list) return [{ field: 'device', message: "must have required property 'port' (or give `devices`, a list of registers)" }];
  if (hasOne && list) return [{ field: 'devices', message: 'give either `device` (one register) or `devices` (several), not both' }];
  const out: Array<{ field: string; message: string }> = [];
  if (list) {
    const seenId = new Map<unknown, number>();
    const seenPort = new Map<unknown, number>();
    list.forEach((d, i) => {
      if (typeof d !== 'object' || d === null) return;
      if (seenId.has(d.id)) out.push({ field: `devices.${i}.id`, message: `the id ${JSON.stringify(d.id)} is already register ${seenId.get(d.id)! + 1}'s` });
      else seenId.set(d.id, i);
      if (seenPort.has(d.port)) out.push({ field: `devices.${i}.port`, message: `the port ${JSON.stringify(d.port)} is already register ${seenPort.get(d.port)! + 1}'s` });
      else seenPort.set(d.port, i);
    });
  }
  return out;
}

/** one `--device` value: `ID=PATH` or just `PATH` (a path or tcp:// URL never holds `=` before a `/` or `:`) */
export function parseDeviceFlag(value: string): { id?: string; port: string } {
  const m = /^([A-Za-z0-9_.-]{1,32})=(.+)$/.exec(value);
  return m ? { id: m[1]!, port: m[2]! } : { port: value };
}

/**
 * Applies `--device` flags to the raw (unvalidated) configuration. One plain PATH with a single `device` (or none)
 * sets its port, as always; otherwise the flags name the pool: a flag whose id is a register of the file sets its
 * port, any other adds a register (taking the file's single `device` settings, if any, as defaults).
 */
export function applyDeviceFlags(raw: Record<string, any>, flags: string[]): void {
  if (flags.length === 0) return;
  const parsed = flags.map(parseDeviceFlag);
  if (parsed.length === 1 && parsed[0]!.id === undefined && !Array.isArray(raw.devices)) {
    raw.device = { ...(raw.device ?? {}), port: parsed[0]!.port };
    return;
  }
  const base: Partial<DeviceConfig> = { ...(raw.device ?? {}) };
  delete base.id;
  delete base.name;
  const list: Array<Record<string, unknown>> = Array.isArray(raw.devices)
    ? raw.devices
    : raw.device?.port !== undefined && parsed.every((p) => p.id !== undefined)
      ? [{ ...raw.device, id: raw.device.id ?? DEFAULT_DEVICE_ID }]
      : [];
  parsed.forEach((p, i) => {
    const id = p.id ?? generatedId(i);
    const known = list.find((d) => d.id === id);
    if (known) known.port = p.port;
    else list.push({ ...base, id, port: p.port });
  });
  delete raw.device;
  raw.devices = list;
}
