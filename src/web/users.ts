/**
 * The page's named users and their roles (admin: everything; cashier: status, «проверить связь», journal, manual
 * receipts, Z/X reports, cash in/out). Kept in the data directory as web-users.json (mode 0600, written atomically),
 * each password a salted scrypt hash. A gateway that had the single page password (web-auth.json) gets it as the
 * user `admin` at first use; `kkt-gateway reset-password` removes both files so the first-run claim starts again.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../config/index.ts';
import { hashPassword, PasswordStore, verifyHash, type StoredHash } from './auth.ts';

export type Role = 'admin' | 'cashier';
export const ROLES: readonly Role[] = ['admin', 'cashier'];
export const USERNAME = /^[A-Za-z0-9._-]{1,32}$/;

export interface UserEntry {
  name: string;
  role: Role;
  created_at: string;
  password: StoredHash;
}

export class UserError extends Error {
  constructor(readonly code: 'BAD_USERNAME' | 'BAD_ROLE' | 'USER_EXISTS' | 'NO_SUCH_USER' | 'LAST_ADMIN', message: string) {
    super(message);
  }
}

export class UserStore {
  private cached: UserEntry[] | undefined;
  /** `legacyFile`: the single page password of earlier versions (web-auth.json) */
  constructor(readonly file: string, private readonly legacyFile?: string) {}

  private async read(): Promise<UserEntry[]> {
    if (this.cached) return this.cached;
    try {
      const v = JSON.parse(await fs.readFile(this.file, 'utf8')) as { users?: UserEntry[] };
      this.cached = Array.isArray(v.users) ? v.users : [];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.cached = [];
      const legacy = this.legacyFile ? await new PasswordStore(this.legacyFile).stored() : null;
      if (legacy) {
        this.cached = [{ name: 'admin', role: 'admin', created_at: legacy.set_at, password: legacy }];
        await this.write(this.cached);
        await fs.rm(this.legacyFile!, { force: true });
      }
    }
    return this.cached;
  }

  private async write(users: UserEntry[]): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, JSON.stringify({ users }, null, 1) + '\n', 0o600);
    this.cached = users;
  }

  /** a password is set: the gateway has been claimed */
  async any(): Promise<boolean> {
    return (await this.read()).length > 0;
  }

  async list(): Promise<Array<{ name: string; role: Role; created_at: string }>> {
    return (await this.read()).map((u) => ({ name: u.name, role: u.role, created_at: u.created_at }));
  }

  async get(name: string): Promise<UserEntry | undefined> {
    return (await this.read()).find((u) => u.name === name);
  }

  /** the user whose name and password these are; undefined otherwise (a hash is computed either way) */
  async verify(name: string, password: string): Promise<UserEntry | undefined> {
    const u = await this.get(name);
    if (!u) {
      await verifyHash(DUMMY ?? (DUMMY = await hashPassword('x')), password);
      return undefined;
    }
    return (await verifyHash(u.password, password)) ? u : undefined;
  }

  async add(name: string, role: Role, password: string, now = new Date()): Promise<void> {
    if (!USERNAME.test(name)) throw new UserError('BAD_USERNAME', 'a user name is 1–32 letters, digits, ".", "_" or "-"');
    if (!ROLES.includes(role)) throw new UserError('BAD_ROLE', 'the role is admin or cashier');
    const users = await this.read();
    if (users.some((u) => u.name === name)) throw new UserError('USER_EXISTS', `the user ${name} exists already`);
    await this.write([...users, { name, role, created_at: now.toISOString(), password: await hashPassword(password, now) }]);
  }

  async remove(name: string): Promise<void> {
    const users = await this.read();
    const u = users.find((x) => x.name === name);
    if (!u) throw new UserError('NO_SUCH_USER', `no user ${name}`);
    if (u.role === 'admin' && users.filter((x) => x.role === 'admin').length === 1) throw new UserError('LAST_ADMIN', 'the last admin cannot be removed');
    await this.write(users.filter((x) => x.name !== name));
  }

  async setPassword(name: string, password: string, now = new Date()): Promise<void> {
    const users = await this.read();
    const u = users.find((x) => x.name === name);
    if (!u) throw new UserError('NO_SUCH_USER', `no user ${name}`);
    const hash = await hashPassword(password, now);
    await this.write(users.map((x) => (x.name === name ? { ...x, password: hash } : x)));
  }
}

let DUMMY: StoredHash | undefined;

/** `kkt-gateway reset-password`: removes the page's users (and an old single password); the claim starts again */
export async function resetUsers(dataDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const f of [usersFileIn(dataDir), path.join(path.resolve(dataDir), 'web-auth.json')]) {
    try {
      await fs.rm(f);
      removed.push(f);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}

export function usersFileIn(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'web-users.json');
}
