/**
 * Byte ports to a register: a tty through `serialport` (8N1, no flow control) or `tcp://host:port` (registers reached
 * over TCP/RNDIS). Both give the same small interface the protocol layers use.
 */
import { readSync, writeSync } from 'node:fs';
import net from 'node:net';

/** A byte pipe to a device. `onGone` fires once when the port closes or fails (a pulled USB cable). */
export interface BytePort {
  write(data: Buffer): Promise<void>;
  onData(listener: (chunk: Buffer) => void): void;
  onGone(listener: (reason: Error) => void): void;
  close(): Promise<void>;
}

export interface OpenPortOptions {
  /** serial speed; default 115200 */
  baudRate?: number;
  /**
   * A serialport `BindingInterface` (tests pass `SerialPortMock.binding`); default: the platform's real binding.
   * Typed loosely because serialport does not export the interface type from its entry point.
   */
  binding?: object;
  /** TCP connect timeout; default 5000 ms */
  connectTimeoutMs?: number;
}

export const DEFAULT_BAUD_RATE = 115200;

/** Opens `/dev/ttyACM0`-style paths through serialport, or `tcp://host:port` through a socket. */
export async function openPort(target: string, opts: OpenPortOptions = {}): Promise<BytePort> {
  if (target.startsWith('tcp://')) return openTcp(target, opts.connectTimeoutMs ?? 5000);
  return openSerial(target, opts);
}

/** Shared plumbing: a 'gone' signal that fires once, data listeners. */
class PortBase {
  private goneListeners: Array<(reason: Error) => void> = [];
  private dataListeners: Array<(chunk: Buffer) => void> = [];
  private goneReason: Error | undefined;

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
  }

  onGone(listener: (reason: Error) => void): void {
    if (this.goneReason) listener(this.goneReason);
    else this.goneListeners.push(listener);
  }

  protected emitData(chunk: Buffer): void {
    for (const l of this.dataListeners) l(chunk);
  }

  protected emitGone(reason: Error): void {
    if (this.goneReason) return;
    this.goneReason = reason;
    for (const l of this.goneListeners.splice(0)) l(reason);
  }

  protected get gone(): Error | undefined {
    return this.goneReason;
  }
}

interface SerialLike {
  open(cb: (err: Error | null) => void): void;
  write(data: Buffer, cb: (err: Error | null | undefined) => void): boolean;
  drain(cb: (err: Error | null) => void): void;
  close(cb: (err: Error | null) => void): void;
  on(event: 'data', l: (chunk: Buffer) => void): unknown;
  on(event: 'close' | 'error', l: (err?: Error | null) => void): unknown;
  readonly isOpen: boolean;
}

class SerialBytePort extends PortBase implements BytePort {
  /** writes whose callback has not come: rejected when the port goes away (see write) */
  private readonly pending = new Set<(err: Error) => void>();

  constructor(private readonly sp: SerialLike, path: string) {
    super();
    sp.on('data', (chunk) => this.emitData(chunk));
    sp.on('close', (err) => this.emitGone(err ?? new Error(`${path} closed`)));
    sp.on('error', (err) => this.emitGone(err ?? new Error(`${path} failed`)));
    this.onGone((reason) => {
      for (const fail of [...this.pending]) fail(reason);
    });
  }

  /**
   * Resolves once the bytes are handed to the OS (serialport's write callback), not after a drain (tcdrain in libuv's
   * pool: one more thread-pool round trip per write, three per exchange). Nothing here needs the bytes to have left
   * the UART: the answer is read from the data listener whenever it comes, and the protocols' answer timeouts (≥ 1 s)
   * cover a whole frame's transmission even at 9600 baud.
   *
   * A write that reaches serialport while its port is closing (a read saw the hang-up of a pulled cable and closes
   * it; 'close' comes after the close finished) waits inside serialport for an 'open' that never comes: its callback
   * is never called. So every pending write also ends when the port goes away, with the reason.
   */
  write(data: Buffer): Promise<void> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => {
      const settle = (err: Error | null | undefined): void => {
        if (!this.pending.delete(fail)) return;
        if (err) reject(err);
        else resolve();
      };
      const fail = (err: Error): void => settle(err);
      this.pending.add(fail);
      this.sp.write(data, settle);
    });
  }

  close(): Promise<void> {
    if (!this.sp.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.sp.close(() => resolve()));
  }
}

/** what directBinding uses of a serialport binding and of the port it opens (typed loosely, as above) */
interface BindingLike {
  open(options: object): Promise<PortBindingLike>;
  list(): Promise<unknown[]>;
}
interface PortBindingLike {
  readonly isOpen: boolean;
  readonly openOptions: object;
  /** the tty's file descriptor (serialport's Linux and macOS bindings), opened O_NONBLOCK */
  readonly fd?: number | null;
  readonly poller?: { once(event: 'readable', cb: (err: Error | null) => void): unknown };
  readonly writeOperation?: Promise<void> | null;
  read(buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number; buffer: Buffer }>;
  write(buffer: Buffer): Promise<void>;
  close(): Promise<void>;
  update(options: object): Promise<void>;
  set(options: object): Promise<void>;
  get(): Promise<unknown>;
  getBaudRate(): Promise<unknown>;
  flush(): Promise<void>;
  drain(): Promise<void>;
}

const RETRY_LATER = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);

/**
 * serialport's own binding, with the bytes read and written on the main thread. serialport's Linux binding opens,
 * configures, polls and closes the tty (all of that is used as it is), but reads and writes it through libuv's thread
 * pool: a read is a hop to a pool thread after the poller saw the tty readable, a write another one, so every
 * turnaround of a register exchange waited for two thread hand-overs (issue 17: the line idle while the host thinks).
 * Its descriptor is non-blocking, so here a read or a write is one plain read(2)/write(2) that returns at once; a
 * read waits for serialport's poller first, as serialport does after a read that found nothing. Everything unusual
 * goes to serialport's own read or write, which meets the same condition and reports it its own way (a pulled
 * cable's EIO marks the port disconnected): 0 bytes read, an error other than EAGAIN/EINTR, a write that did not go
 * out whole (the rest is written by serialport, after the part written here), and a write while one of
 * serialport's is still under way.
 */
export function directBinding<B extends object>(base: B): B {
  const b = base as unknown as BindingLike;
  const direct: BindingLike = {
    list: () => b.list(),
    open: async (options) => new DirectPort(await b.open(options)),
  };
  return direct as unknown as B;
}

class DirectPort implements PortBindingLike {
  constructor(private readonly inner: PortBindingLike) {}

  get isOpen(): boolean {
    return this.inner.isOpen;
  }

  get openOptions(): object {
    return this.inner.openOptions;
  }

  private liveFd(): number | undefined {
    const fd = this.inner.fd;
    return this.inner.isOpen && typeof fd === 'number' && fd >= 0 ? fd : undefined;
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number; buffer: Buffer }> {
    for (;;) {
      const poller = this.inner.poller;
      if (this.liveFd() === undefined || !poller) return this.inner.read(buffer, offset, length);
      // readable first, then the read: a read that finds nothing throws EAGAIN, and an exception per chunk read is
      // most of what reading costs (the poll is level-triggered: bytes already there report at once). The poller
      // rejects with a canceled error when the port closes, as in serialport's own read.
      await new Promise<void>((resolve, reject) => poller.once('readable', (e) => (e ? reject(e) : resolve())));
      const fd = this.liveFd();
      if (fd === undefined) return this.inner.read(buffer, offset, length);
      let n: number;
      try {
        n = readSync(fd, buffer, offset, length, null);
      } catch (err) {
        if (RETRY_LATER.has((err as NodeJS.ErrnoException).code ?? '')) continue; // woken with nothing to read
        return this.inner.read(buffer, offset, length);
      }
      if (n > 0) return { bytesRead: n, buffer };
      return this.inner.read(buffer, offset, length);
    }
  }

  async write(buffer: Buffer): Promise<void> {
    const fd = this.liveFd();
    let written = 0;
    if (fd !== undefined && !this.inner.writeOperation && buffer.length > 0) {
      try {
        written = writeSync(fd, buffer, 0, buffer.length);
      } catch {
        written = 0; // serialport's own write meets it again and reports it
      }
    }
    if (written >= buffer.length) return;
    return this.inner.write(written === 0 ? buffer : buffer.subarray(written));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
  update(options: object): Promise<void> {
    return this.inner.update(options);
  }
  set(options: object): Promise<void> {
    return this.inner.set(options);
  }
  get(): Promise<unknown> {
    return this.inner.get();
  }
  getBaudRate(): Promise<unknown> {
    return this.inner.getBaudRate();
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  drain(): Promise<void> {
    return this.inner.drain();
  }
}

async function openSerial(path: string, opts: OpenPortOptions): Promise<BytePort> {
  // Loaded on demand: importing serialport loads the native binding.
  const { SerialPort } = await import('serialport');
  const options = {
    path,
    baudRate: opts.baudRate ?? DEFAULT_BAUD_RATE,
    dataBits: 8 as const,
    parity: 'none' as const,
    stopBits: 1 as const,
    rtscts: false,
    xon: false,
    xoff: false,
    autoOpen: false,
    binding: opts.binding ?? directBinding(SerialPort.binding),
  };
  const sp = new SerialPort(options) as unknown as SerialLike;
  const port = new SerialBytePort(sp, path);
  await new Promise<void>((resolve, reject) => sp.open((err) => (err ? reject(err) : resolve())));
  return port;
}

class TcpBytePort extends PortBase implements BytePort {
  constructor(private readonly socket: net.Socket, target: string) {
    super();
    socket.on('data', (chunk) => this.emitData(chunk));
    socket.on('close', () => this.emitGone(new Error(`${target} closed`)));
    socket.on('error', (err) => this.emitGone(err));
  }

  write(data: Buffer): Promise<void> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }
}

export function parseTcpTarget(target: string): { host: string; port: number } {
  const u = new URL(target);
  const port = Number(u.port);
  if (u.protocol !== 'tcp:' || !u.hostname || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new RangeError(`bad TCP target ${target}, expected tcp://host:port`);
  }
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

function openTcp(target: string, timeoutMs: number): Promise<BytePort> {
  const { host, port } = parseTcpTarget(target);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(new Error(`connect to ${target}: timeout ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      socket.setKeepAlive(true, 10_000);
      resolve(new TcpBytePort(socket, target));
    });
  });
}
