/**
 * A small sd_notify(3) client: READY=1, WATCHDOG=1, STOPPING=1 and STATUS= datagrams to the unix socket named by
 * $NOTIFY_SOCKET, sent from the main process itself (systemd checks the sender's PID with NotifyAccess=main).
 *
 * Node has no unix datagram sockets, so this uses `unix-dgram` (a small native addon, built from source by node-gyp
 * at install). Without $NOTIFY_SOCKET every call is a no-op. Abstract-namespace sockets ("@…") are not supported by
 * unix-dgram; systemd gives services the path /run/systemd/notify.
 */
import type { Logger } from '../log.ts';

/** The part of a unix-dgram socket used here. */
export interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  close(): void;
  on(event: 'error', l: (err: Error) => void): unknown;
}

export interface SdNotifyOptions {
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  /** creates the socket; default: unix-dgram */
  createSocket?: () => Promise<DgramSocket>;
  pid?: number;
}

export interface Notifier {
  /** true when $NOTIFY_SOCKET is set and the socket works */
  readonly enabled: boolean;
  ready(status?: string): Promise<void>;
  stopping(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  watchdog(): Promise<void>;
  /** the watchdog interval systemd asked for ($WATCHDOG_USEC, for this PID), ms; undefined when none */
  readonly watchdogMs: number | undefined;
  /**
   * Pings WATCHDOG=1 at half the interval from a timer on the main event loop: a stuck loop stops the pings and
   * systemd restarts the service. Returns a function that stops the pings. No-op without a watchdog.
   */
  startWatchdog(): () => void;
  close(): void;
}

const defaultSocket = async (): Promise<DgramSocket> => {
  const mod = (await import('unix-dgram')) as unknown as { createSocket(type: 'unix_dgram'): DgramSocket; default?: { createSocket(type: 'unix_dgram'): DgramSocket } };
  const create = mod.createSocket ?? mod.default?.createSocket;
  if (!create) throw new Error('unix-dgram has no createSocket');
  return create('unix_dgram');
};

/** The watchdog interval from the environment (sd_watchdog_enabled semantics), in ms. */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 1000));
}

class NoopNotifier implements Notifier {
  readonly enabled = false;
  readonly watchdogMs = undefined;
  async ready(): Promise<void> {}
  async stopping(): Promise<void> {}
  async status(): Promise<void> {}
  async watchdog(): Promise<void> {}
  startWatchdog(): () => void {
    return () => undefined;
  }
  close(): void {}
}

class SocketNotifier implements Notifier {
  readonly enabled = true;
  private closed = false;

  constructor(
    private readonly sock: DgramSocket,
    private readonly path: string,
    private readonly logger: Logger,
    readonly watchdogMs: number | undefined,
  ) {
    sock.on('error', (err) => logger.warn({ err: err.message }, 'sd_notify socket error'));
  }

  private send(text: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    const buf = Buffer.from(text);
    return new Promise((resolve) => {
      this.sock.send(buf, 0, buf.length, this.path, (err) => {
        if (err) this.logger.warn({ err: err.message, socket: this.path }, 'sd_notify send failed');
        resolve();
      });
    });
  }

  ready(status?: string): Promise<void> {
    return this.send(`READY=1\nMAINPID=${process.pid}${status ? `\nSTATUS=${status}` : ''}`);
  }

  stopping(status?: string): Promise<void> {
    return this.send(`STOPPING=1${status ? `\nSTATUS=${status}` : ''}`);
  }

  status(text: string): Promise<void> {
    return this.send(`STATUS=${text}`);
  }

  watchdog(): Promise<void> {
    return this.send('WATCHDOG=1');
  }

  startWatchdog(): () => void {
    const ms = this.watchdogMs;
    if (ms === undefined) return () => undefined;
    const timer = setInterval(() => void this.watchdog(), Math.max(1, Math.floor(ms / 2)));
    timer.unref();
    void this.watchdog();
    return () => clearInterval(timer);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

/** Opens the notify socket named by $NOTIFY_SOCKET; a no-op notifier without it (or when it cannot be used). */
export async function createNotifier(o: SdNotifyOptions): Promise<Notifier> {
  const env = o.env ?? process.env;
  const path = env.NOTIFY_SOCKET;
  if (!path) return new NoopNotifier();
  if (path.startsWith('@')) {
    o.logger.warn({ socket: path }, 'NOTIFY_SOCKET is an abstract socket, which unix-dgram cannot address; systemd notifications are off');
    return new NoopNotifier();
  }
  try {
    const sock = await (o.createSocket ?? defaultSocket)();
    return new SocketNotifier(sock, path, o.logger, watchdogInterval(env, o.pid ?? process.pid));
  } catch (err) {
    o.logger.error({ err: (err as Error).message }, 'cannot open the systemd notify socket (is unix-dgram built?); notifications are off');
    return new NoopNotifier();
  }
}
