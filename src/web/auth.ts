/**
 * The web page's password and sessions. The password is set at first run and stored as a salted scrypt hash in the
 * data directory (mode 0600, written atomically); sessions live in memory only (a restart logs everybody out, and
 * nothing about them is written to the SD card).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../config/index.ts';

const scrypt = (password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));

/** scrypt cost: ~16 MB and ~0.1 s on a Raspberry Pi 3 per attempt — slow for a guesser, fine for a login */
const COST = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEYLEN = 64;
export const MIN_PASSWORD = 8;

export interface StoredHash {
  algo: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
  set_at: string;
}

/** a salted scrypt hash of a password (the stored form of every password of the pages) */
export async function hashPassword(password: string, now = new Date()): Promise<StoredHash> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, KEYLEN, COST);
  return { algo: 'scrypt', N: COST.N, r: COST.r, p: COST.p, salt: salt.toString('base64'), hash: hash.toString('base64'), set_at: now.toISOString() };
}

/** true when `password` is the one `s` was made of (constant time) */
export async function verifyHash(s: StoredHash, password: string): Promise<boolean> {
  const want = Buffer.from(s.hash, 'base64');
  const got = await scrypt(password, Buffer.from(s.salt, 'base64'), want.length, { N: s.N, r: s.r, p: s.p, maxmem: COST.maxmem });
  return timingSafeEqual(want, got);
}

export class PasswordStore {
  private cached: StoredHash | null | undefined;
  constructor(private readonly file: string) {}

  private async read(): Promise<StoredHash | null> {
    if (this.cached !== undefined) return this.cached;
    try {
      this.cached = JSON.parse(await fs.readFile(this.file, 'utf8')) as StoredHash;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.cached = null;
    }
    return this.cached;
  }

  async isSet(): Promise<boolean> {
    return (await this.read()) !== null;
  }

  async set(password: string, now = new Date()): Promise<void> {
    const stored = await hashPassword(password, now);
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, JSON.stringify(stored) + '\n', 0o600);
    this.cached = stored;
  }

  async verify(password: string): Promise<boolean> {
    const s = await this.read();
    return s ? verifyHash(s, password) : false;
  }

  /** the stored hash as it is (the page's users migrate the single password from it); null when none */
  stored(): Promise<StoredHash | null> {
    return this.read();
  }
}

export interface Session {
  id: string;
  createdAt: number;
  seenAt: number;
  /** the gateway page's named user and role (the fleet monitor's single password has none) */
  user?: string;
  role?: 'admin' | 'cashier';
}

/** In-memory sessions with an idle timeout and an absolute lifetime. */
export class Sessions {
  private readonly byId = new Map<string, Session>();
  constructor(
    private readonly now: () => number,
    private readonly idleMs = 8 * 3600_000,
    private readonly maxMs = 7 * 24 * 3600_000,
  ) {}

  create(who?: { user: string; role: 'admin' | 'cashier' }): Session {
    this.sweep();
    const t = this.now();
    const s: Session = { id: randomBytes(32).toString('base64url'), createdAt: t, seenAt: t, ...(who ? { user: who.user, role: who.role } : {}) };
    this.byId.set(s.id, s);
    return s;
  }

  /** the live session for a cookie value, refreshed; undefined when unknown or expired */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.seenAt > this.idleMs || t - s.createdAt > this.maxMs) {
      this.byId.delete(id);
      return undefined;
    }
    s.seenAt = t;
    return s;
  }

  delete(id: string | undefined): void {
    if (id) this.byId.delete(id);
  }

  /** logs everybody out (after a password change); with `user`, only that user's sessions */
  clear(user?: string): void {
    if (user === undefined) this.byId.clear();
    else for (const [id, s] of this.byId) if (s.user === user) this.byId.delete(id);
  }

  private sweep(): void {
    const t = this.now();
    for (const [id, s] of this.byId) if (t - s.seenAt > this.idleMs || t - s.createdAt > this.maxMs) this.byId.delete(id);
  }
}
