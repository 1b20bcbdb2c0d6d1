/**
 * The page's audit log: every state-changing action (login, failed login, setup code issued / claim, settings
 * saved, restore, restart, manual receipt, Z/X report, cash in/out, re-publish, user changes) with its time, user,
 * address, what and outcome. An append-only JSON-lines file in the data directory (web-audit.jsonl, mode 0600), each
 * line written and synced before the action's answer; entries older than queue.retention_days are dropped at start
 * and once a day (the file rewritten atomically). The page lists, filters and exports it; nothing edits it.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../config/index.ts';

export interface AuditEntry {
  time: string;
  user: string | null;
  role: string | null;
  ip: string;
  action: string;
  outcome: 'ok' | 'refused' | 'failed';
  /** what, in detail: the receipt's external_id and FD, the user added, the settings changed… */
  detail?: Record<string, unknown>;
}

export interface AuditQuery {
  from?: number;
  to?: number;
  user?: string;
  action?: string;
  outcome?: string;
  limit?: number;
}

export class AuditLog {
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  constructor(
    readonly file: string,
    private readonly retentionDays: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  /** drops old entries now and once a day after */
  async start(): Promise<void> {
    await this.prune();
    this.timer = setInterval(() => void this.prune().catch(() => undefined), 24 * 3600_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f, f);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** appends one entry, synced to the disk */
  record(e: Omit<AuditEntry, 'time'>): Promise<AuditEntry> {
    const entry: AuditEntry = { time: new Date(this.now()).toISOString(), ...e };
    return this.serial(async () => {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      const fh = await fs.open(this.file, 'a', 0o600);
      try {
        await fh.write(JSON.stringify(entry) + '\n');
        await fh.datasync();
      } finally {
        await fh.close();
      }
      return entry;
    });
  }

  private async readAll(): Promise<AuditEntry[]> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: AuditEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as AuditEntry);
      } catch {
        /* a line cut by a power loss: skipped */
      }
    }
    return out;
  }

  /** entries older than the retention dropped (the file rewritten atomically) */
  prune(): Promise<number> {
    return this.serial(async () => {
      const all = await this.readAll();
      const cut = this.now() - this.retentionDays() * 24 * 3600_000;
      const keep = all.filter((e) => Date.parse(e.time) >= cut);
      if (keep.length === all.length) return 0;
      await writeFileAtomic(this.file, keep.map((e) => JSON.stringify(e) + '\n').join(''), 0o600);
      return all.length - keep.length;
    });
  }

  /** newest first */
  async list(q: AuditQuery = {}): Promise<AuditEntry[]> {
    const all = await this.serial(() => this.readAll());
    const out: AuditEntry[] = [];
    for (let i = all.length - 1; i >= 0 && out.length < (q.limit ?? 1000); i--) {
      const e = all[i]!;
      const t = Date.parse(e.time);
      if (q.from !== undefined && t < q.from) continue;
      if (q.to !== undefined && t >= q.to) continue;
      if (q.user && e.user !== q.user) continue;
      if (q.action && e.action !== q.action) continue;
      if (q.outcome && e.outcome !== q.outcome) continue;
      out.push(e);
    }
    return out;
  }
}

const csvCell = (v: unknown): string => {
  const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  // a cell a spreadsheet would run as a formula starts with a quote
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r;]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

export function auditCsv(entries: AuditEntry[]): string {
  const head = ['time', 'user', 'role', 'ip', 'action', 'outcome', 'external_id', 'fd', 'detail'];
  const rows = entries.map((e) => [e.time, e.user, e.role, e.ip, e.action, e.outcome, e.detail?.external_id, e.detail?.fd, e.detail].map(csvCell).join(','));
  return [head.join(','), ...rows].join('\r\n') + '\r\n';
}

export function auditFileIn(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'web-audit.jsonl');
}
