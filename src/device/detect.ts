/**
 * Finding out which register is behind a port (`device.protocol: "auto"`): each protocol's harmless question
 * (drivers/probe.ts), at each of its usual serial speeds, the last finding first. What was found is remembered in
 * the data directory, so a restart asks once; after a replug or a lost link the next open asks again.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PROBE_ORDER, registry, type ProtocolEntry, type ProtocolName } from '../../drivers/registry.ts';
import type { BytePort } from '../../drivers/transport.ts';

export interface Detected {
  protocol: ProtocolName;
  /** serial speed that answered; absent for tcp:// */
  baudRate?: number;
}

export interface DetectOptions {
  /** opens the target at a speed (ignored for tcp://) */
  openPort: (baudRate: number | undefined) => Promise<BytePort>;
  isTcp: boolean;
  /** 'auto' or a pinned protocol (then only its speeds are tried when `sweepBauds`) */
  protocol: 'auto' | ProtocolName;
  /** the configured speed, tried first */
  baudRate: number;
  /** try the protocol's other usual speeds too; default true for auto */
  sweepBauds?: boolean;
  /** what was found last time, tried first */
  remembered?: Detected;
  /** per question; default 400 ms */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** one line per question asked, for the log */
  onTry?: (t: { protocol: ProtocolName; baudRate?: number; answer: 'yes' | 'no' | 'error'; error?: string }) => void;
}

export interface Attempt {
  protocol: ProtocolName;
  baudRate: number | undefined;
}

/** The questions to ask, in order, without repeats. */
export function attempts(o: Pick<DetectOptions, 'isTcp' | 'protocol' | 'baudRate' | 'sweepBauds' | 'remembered'>): Attempt[] {
  const entries: ProtocolEntry[] = o.protocol === 'auto' ? PROBE_ORDER : [registry[o.protocol]];
  const sweep = o.sweepBauds ?? o.protocol === 'auto';
  const list: Attempt[] = [];
  const add = (protocol: ProtocolName, baudRate: number | undefined): void => {
    if (!list.some((a) => a.protocol === protocol && a.baudRate === baudRate)) list.push({ protocol, baudRate });
  };
  const r = o.remembered;
  if (r && entries.some((e) => e.name === r.protocol)) add(r.protocol, o.isTcp ? undefined : (r.baudRate ?? o.baudRate));
  for (const e of entries) add(e.name, o.isTcp ? undefined : o.baudRate);
  if (!o.isTcp && sweep) for (const e of entries) for (const b of e.bauds) add(e.name, b);
  return list;
}

/** Asks each question in turn; resolves with the first protocol that answered, or undefined. */
export async function detect(o: DetectOptions): Promise<Detected | undefined> {
  for (const a of attempts(o)) {
    if (o.signal?.aborted) return undefined;
    let port: BytePort | undefined;
    try {
      port = await o.openPort(a.baudRate);
      const answer = await registry[a.protocol].probe(port, o.timeoutMs ?? 400);
      o.onTry?.({ protocol: a.protocol, ...(a.baudRate ? { baudRate: a.baudRate } : {}), answer });
      if (answer === 'yes') return { protocol: a.protocol, ...(a.baudRate ? { baudRate: a.baudRate } : {}) };
    } catch (err) {
      o.onTry?.({ protocol: a.protocol, ...(a.baudRate ? { baudRate: a.baudRate } : {}), answer: 'error', error: (err as Error).message });
      // the port itself cannot be opened (absent, busy): no other speed or protocol will open it either
      if (!port) throw err;
    } finally {
      await port?.close().catch(() => undefined);
    }
  }
  return undefined;
}

/** What was found on which port, kept in the data directory (`device-detected.json`). */
export class DetectionMemory {
  constructor(private readonly file: string) {}

  static inDataDir(dataDir: string): DetectionMemory {
    return new DetectionMemory(path.join(dataDir, 'device-detected.json'));
  }

  async get(port: string): Promise<Detected | undefined> {
    try {
      const all = JSON.parse(await fs.readFile(this.file, 'utf8')) as Record<string, Detected>;
      const d = all[port];
      return d && d.protocol in registry ? d : undefined;
    } catch {
      return undefined;
    }
  }

  async set(port: string, d: Detected): Promise<void> {
    let all: Record<string, Detected> = {};
    try {
      all = JSON.parse(await fs.readFile(this.file, 'utf8')) as Record<string, Detected>;
    } catch {
      /* first finding */
    }
    const prev = all[port];
    if (prev && prev.protocol === d.protocol && prev.baudRate === d.baudRate) return;
    all[port] = d;
    const tmp = `${this.file}.tmp`;
    await fs.writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o644 });
    await fs.rename(tmp, this.file);
  }
}

export function describe(d: Detected): string {
  return `${registry[d.protocol].title}${d.baudRate ? ` at ${d.baudRate} baud` : ''}`;
}
