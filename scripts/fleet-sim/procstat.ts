/** CPU and memory of a process from /proc/<pid> (Linux): CPU seconds used so far, RSS now. */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let tick = 100;
try {
  tick = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* 100 on every Linux the project runs on */
}

export interface ProcSample {
  /** host monotonic ms */
  at: number;
  /** user + system CPU seconds since the process started */
  cpuS: number;
  /** resident set, bytes */
  rss: number;
}

export function sample(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may hold spaces: fields after the closing parenthesis
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuS = (Number(f[11]) + Number(f[12])) / tick; // utime, stime (fields 14 and 15)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
    return { at: performance.now(), cpuS, rss: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

/** samples a process every `everyMs`: CPU over a window (start()…stop()), peak and last RSS */
export class ProcWatch {
  private first: ProcSample | undefined;
  private last: ProcSample | undefined;
  peakRss = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly pid: number, private readonly everyMs = 1000) {}

  start(): void {
    this.first = sample(this.pid);
    this.last = this.first;
    this.peakRss = this.first?.rss ?? 0;
    this.timer = setInterval(() => this.take(), this.everyMs);
  }

  private take(): void {
    const s = sample(this.pid);
    if (!s) return;
    this.last = s;
    this.peakRss = Math.max(this.peakRss, s.rss);
  }

  /** stops; CPU as a percentage of one core over the window */
  stop(): { cpuPct: number; rss: number; peakRss: number } | undefined {
    clearInterval(this.timer);
    this.take();
    const a = this.first;
    const b = this.last;
    if (!a || !b || b.at <= a.at) return undefined;
    return { cpuPct: ((b.cpuS - a.cpuS) / ((b.at - a.at) / 1000)) * 100, rss: b.rss, peakRss: this.peakRss };
  }
}

/** the soft limit of open files of a process (default this one; children inherit it) */
export function openFilesLimit(pid: number | 'self' = 'self'): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m?.[1] === 'unlimited' ? Infinity : Number(m?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}
