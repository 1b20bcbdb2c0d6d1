/** Serial and USB candidates for the register: path, stable by-id path, VID:PID and a guess of the family. */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface PortCandidate {
  path: string;
  byId?: string;
  vendorId?: string;
  productId?: string;
  manufacturer?: string;
  serialNumber?: string;
  family?: 'shtrih' | 'atol';
  note?: string;
}

/** Known registers (kkt-protocols.md §3). */
const KNOWN: Array<{ vid: string; pid?: string; family: 'shtrih' | 'atol'; note: string }> = [
  { vid: '1fc9', pid: '0083', family: 'shtrih', note: 'Shtrih-M (CDC)' },
  { vid: 'abcd', pid: '1980', family: 'shtrih', note: 'Shtrih-M (CDC)' },
  { vid: '04d9', pid: 'b534', family: 'shtrih', note: 'Shtrih Nano' },
  { vid: '1fc9', pid: '0089', family: 'shtrih', note: 'Shtrih-M DFU bootloader — not a working register' },
  { vid: '2912', family: 'atol', note: 'ATOL (CDC)' },
];

export function guessFamily(vid?: string, pid?: string): { family?: 'shtrih' | 'atol'; note?: string } {
  const v = vid?.toLowerCase();
  const p = pid?.toLowerCase();
  const hit = KNOWN.find((k) => k.vid === v && (k.pid === undefined || k.pid === p));
  return hit ? { family: hit.family, note: hit.note } : {};
}

/** /dev/serial/by-id/* → their targets */
export async function byIdLinks(dir = '/dev/serial/by-id'): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let names: string[] = [];
  try {
    names = await fs.readdir(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const link = path.join(dir, n);
    try {
      out.set(await fs.realpath(link), link);
    } catch {
      /* dangling link: the device went away */
    }
  }
  return out;
}

type Lister = () => Promise<Array<{ path: string; vendorId?: string | undefined; productId?: string | undefined; manufacturer?: string | undefined; serialNumber?: string | undefined }>>;

export async function listCandidates(list?: Lister, byIdDir?: string): Promise<PortCandidate[]> {
  const lister: Lister = list ?? (async () => (await import('serialport')).SerialPort.list());
  let ports: Awaited<ReturnType<Lister>> = [];
  try {
    ports = await lister();
  } catch {
    ports = [];
  }
  const links = await byIdLinks(byIdDir);
  return ports
    .map((p) => {
      const c: PortCandidate = { path: p.path, ...guessFamily(p.vendorId, p.productId) };
      const id = links.get(p.path);
      if (id) c.byId = id;
      if (p.vendorId) c.vendorId = p.vendorId.toLowerCase();
      if (p.productId) c.productId = p.productId.toLowerCase();
      if (p.manufacturer) c.manufacturer = p.manufacturer;
      if (p.serialNumber) c.serialNumber = p.serialNumber;
      return c;
    })
    .sort((a, b) => Number(!!b.family) - Number(!!a.family) || Number(!!b.byId) - Number(!!a.byId) || a.path.localeCompare(b.path));
}

/** The stable path to configure: the by-id link when there is one. */
export function preferredPath(c: PortCandidate): string {
  return c.byId ?? c.path;
}
