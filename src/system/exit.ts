/**
 * Exiting without losing output. `process.exit()` ends the process at once, and what stdout and stderr still hold
 * is lost when they are pipes (asynchronous on POSIX: `--dump | jq` got its JSON cut at 64 KiB). Every command of
 * the project that must exit explicitly (an open server, stdin or a timer would keep it alive) exits through this:
 * an empty write with a callback on each stream queues behind everything written before, so the callback means
 * all of it has been handed to the kernel; then exit.
 */
import type { Writable } from 'node:stream';

export interface ExitOptions {
  /** default: process.stdout and process.stderr */
  streams?: Writable[];
  /** exit anyway after this long (a reader that never reads must not hold a forced exit forever); default: no bound */
  maxWaitMs?: number;
  /** default process.exit (tests inject) */
  exit?: (code: number) => void;
}

/** Resolves when every stream has flushed what was written to it before (or is closed, or errored). */
export function drained(streams: Writable[] = [process.stdout, process.stderr]): Promise<void> {
  return Promise.all(
    streams.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed || s.writableEnded || !s.writable) return resolve();
          try {
            s.write('', () => resolve());
          } catch {
            resolve();
          }
        }),
    ),
  ).then(() => undefined);
}

/** Exits with `code` once stdout and stderr are drained. The returned promise never settles when exit is real. */
export function exitAfterDrain(code: number, o: ExitOptions = {}): Promise<void> {
  const exit = o.exit ?? ((c: number) => process.exit(c));
  process.exitCode = code;
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const finish = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    exit(code);
  };
  if (o.maxWaitMs !== undefined) timer = setTimeout(finish, o.maxWaitMs);
  return drained(o.streams).then(finish);
}
