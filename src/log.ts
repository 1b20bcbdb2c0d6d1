/** pino logger: JSON lines on stdout (journald keeps them), readable in a terminal, secrets redacted. */
import { pino, type Logger, type DestinationStream } from 'pino';
import { Writable } from 'node:stream';

export type { Logger } from 'pino';

export interface LogOptions {
  level?: string;
  /** human-readable lines (default: when stdout is a terminal) */
  pretty?: boolean;
  /** where JSON lines go (default stdout); tests pass a sink */
  destination?: DestinationStream;
  /** literal secret values to mask wherever they appear in a line */
  secrets?: string[];
  /** keeps the last lines in memory (for the web page) */
  ring?: LogRing;
}

/** The last N log lines, kept in memory only (nothing written to the SD card). */
export class LogRing {
  private lines: string[] = [];
  constructor(private readonly size = 500) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.splice(0, this.lines.length - this.size);
  }
  recent(): object[] {
    return this.lines.map((l) => {
      try {
        return JSON.parse(l) as object;
      } catch {
        return { msg: l };
      }
    });
  }
}

const REDACT_PATHS = ['password', '*.password', '*.*.password', 'mqtt.password', 'config.mqtt.password', 'headers.authorization', 'key', '*.key'];

function maskSecrets(secrets: string[]): (line: string) => string {
  const list = secrets.filter((s) => s.length >= 4);
  if (list.length === 0) return (l) => l;
  return (line) => list.reduce((acc, s) => acc.split(s).join('***'), line);
}

export function createLogger(opts: LogOptions = {}): Logger {
  const mask = maskSecrets(opts.secrets ?? []);
  const pretty = opts.pretty ?? (!opts.destination && process.stdout.isTTY === true);
  let target: DestinationStream =
    opts.destination ?? (pretty ? (pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:standard' } }) as DestinationStream) : pino.destination({ fd: 1, sync: false }));
  const ring = opts.ring;
  const inner = target;
  target = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const line = mask(chunk.toString());
      ring?.push(line.trimEnd());
      inner.write(line);
      cb();
    },
  });
  return pino({ level: opts.level ?? 'info', redact: { paths: REDACT_PATHS, censor: '***' }, base: { pid: process.pid } }, target);
}
