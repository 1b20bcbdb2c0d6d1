/**
 * The serial line between the gateway (on the pty) and the emulator, as the bench sees it: every byte counted in
 * each direction, every request frame and its answer timed, and optionally paced at a baud rate in BOTH directions.
 *
 *   pty.stream (the host's side, through socat)  ⇄  Line  ⇄  line.device (what the emulator attaches to)
 *
 * Pacing models a real 8N1 line: a chunk of n bytes occupies its direction for n × 10 / baud seconds, starting when
 * it is written or when the previous chunk in that direction has finished, whichever is later, and is delivered
 * whole at the end. Delivery is timed precisely (a timer to ~1 ms before, then setImmediate until the time): a plain
 * setTimeout per chunk would add up to a millisecond per chunk, which is more than a whole 10-byte frame takes at
 * 115200 baud, and would be charged to the gateway. (The emulator's own `link.baud` option paces only its answers,
 * with one setTimeout each, so it is not used here.)
 */
import { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';

const STX = 0x02;
/** ATOL v3: FE LEN0 LEN1 ID DATA… CRC, DATA and CRC stuffed (FE → FD EE, FD → FD ED) */
const ATOL_STX = 0xfe;
const ATOL_ESC = 0xfd;
/** deliveries due within this are waited for with setImmediate, not a timer */
const SPIN_MS = 1.5;

export interface LineOptions {
  /** 0 = instant (no pacing) */
  baud?: number;
  /** how request frames are found: Shtrih-M `STX LEN … LRC` (default) or ATOL v3 `FE LEN0 LEN1 ID DATA CRC` */
  protocol?: 'shtrih' | 'atol';
}

interface Pending {
  chunk: Buffer;
  end: number;
}

/** One direction of the line: a FIFO of chunks, each delivered at its end time. */
class Direction {
  bytes = 0;
  chunks = 0;
  /** line busy time, ms (bytes × 10 / baud) */
  busyMs = 0;
  /** paced chunks delivered after their due time: the sum of the delays, ms (the model's own error) */
  lateMs = 0;
  private busyUntil = 0;
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private spinning = false;
  closed = false;

  constructor(
    public baud: number,
    private readonly deliver: (chunk: Buffer) => void,
    private readonly onChunk: (n: number, start: number, end: number) => void,
  ) {}

  send(chunk: Buffer): void {
    const now = performance.now();
    this.bytes += chunk.length;
    this.chunks++;
    if (this.baud <= 0 && this.queue.length === 0) {
      this.onChunk(chunk.length, now, now);
      this.deliver(chunk);
      return;
    }
    const ms = this.baud > 0 ? (chunk.length * 10 * 1000) / this.baud : 0;
    this.busyMs += ms;
    const start = Math.max(now, this.busyUntil);
    const end = start + ms;
    this.busyUntil = end;
    this.onChunk(chunk.length, start, end);
    this.queue.push({ chunk, end });
    this.pump();
  }

  private pump(): void {
    if (this.timer || this.spinning || this.closed) return;
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.end <= now) {
      const p = this.queue.shift()!;
      this.lateMs += now - p.end;
      this.deliver(p.chunk);
    }
    const next = this.queue[0];
    if (!next) return;
    const wait = next.end - now;
    if (wait > SPIN_MS) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, Math.max(1, Math.floor(wait - SPIN_MS + 0.5)));
    } else {
      this.spinning = true;
      setImmediate(() => {
        this.spinning = false;
        this.pump();
      });
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

export interface LineStats {
  hostToDevice: number;
  deviceToHost: number;
  frames: number;
  /** time the emulator spent between a request frame delivered to it and its answer frame written, ms */
  emulatorMs: number;
  /** paced deliveries' total delay past their due time, ms */
  lateMs: number;
}

export class Line {
  /** the emulator's end */
  readonly device: Duplex;
  private readonly h2d: Direction;
  private readonly d2h: Direction;
  /** first chunk start and last chunk end seen on the line (performance.now() ms), per window */
  private first = Infinity;
  private last = -Infinity;
  private rx: number[] | undefined;
  /** ATOL: the frame being read (header bytes seen, unstuffed bytes of ID+DATA+CRC still due, an escape pending) */
  private atolRx: { header: number[]; due: number; esc: boolean } | undefined;
  private readonly protocol: 'shtrih' | 'atol';
  private requestAt: number | undefined;
  private frames = 0;
  private emulatorMs = 0;
  /** every request frame: [delivered to the emulator, command code]; kept only while `trace` is on */
  readonly requests: Array<{ at: number; code: number }> = [];
  trace = false;

  constructor(private readonly host: Duplex, opts: LineOptions = {}) {
    const baud = opts.baud ?? 0;
    this.protocol = opts.protocol ?? 'shtrih';
    const mark = (_n: number, start: number, end: number): void => {
      if (start < this.first) this.first = start;
      if (end > this.last) this.last = end;
    };
    this.device = new Duplex({
      read() {},
      write: (chunk: Buffer, _enc, cb) => {
        this.fromDevice(chunk);
        cb();
      },
    });
    this.h2d = new Direction(baud, (c) => this.toDevice(c), mark);
    this.d2h = new Direction(baud, (c) => this.host.writable && this.host.write(c), mark);
    host.on('data', (c: Buffer) => this.h2d.send(c));
  }

  /** bytes delivered to the emulator: find the end of each request frame (STX LEN payload LRC) */
  private toDevice(chunk: Buffer): void {
    if (this.protocol === 'atol') {
      this.atolFrames(chunk);
      this.device.push(chunk);
      return;
    }
    for (const b of chunk) {
      if (this.rx) {
        this.rx.push(b);
        if (this.rx.length >= 2 && this.rx.length === this.rx[1]! + 3) {
          const frame = this.rx;
          this.rx = undefined;
          this.requestAt = performance.now();
          this.frames++;
          if (this.trace) this.requests.push({ at: this.requestAt, code: frame[2] === 0xff ? 0xff00 | frame[3]! : frame[2]! });
        }
      } else if (b === STX) this.rx = [b];
    }
    // the emulator reacts synchronously to what it is given; push after the bookkeeping
    this.device.push(chunk);
  }

  /** ATOL v3 request frames: FE, LEN0, LEN1, then ID + LEN data bytes + CRC, unstuffed */
  private atolFrames(chunk: Buffer): void {
    for (const b of chunk) {
      if (b === ATOL_STX) {
        this.atolRx = { header: [], due: -1, esc: false };
        continue;
      }
      const rx = this.atolRx;
      if (!rx) continue;
      if (rx.due < 0) {
        rx.header.push(b);
        if (rx.header.length === 2) rx.due = (rx.header[0]! & 0x7f) + (rx.header[1]! << 7) + 2; // ID + DATA + CRC
        continue;
      }
      if (b === ATOL_ESC && !rx.esc) {
        rx.esc = true; // a stuffed byte of DATA or CRC (the ID is never FE/FD)
        continue;
      }
      rx.esc = false;
      if (--rx.due === 0) {
        this.atolRx = undefined;
        this.requestAt = performance.now();
        this.frames++;
      }
    }
  }

  /** bytes written by the emulator: an answer frame ends the emulator's time for the request before it */
  private fromDevice(chunk: Buffer): void {
    if ((chunk[0] === (this.protocol === 'atol' ? ATOL_STX : STX)) && this.requestAt !== undefined) {
      this.emulatorMs += performance.now() - this.requestAt;
      this.requestAt = undefined;
    }
    this.d2h.send(Buffer.from(chunk));
  }

  get baud(): number {
    return this.h2d.baud;
  }

  /** changes the line speed (0 = instant); takes effect for the chunks written from now on */
  setBaud(baud: number): void {
    this.h2d.baud = baud;
    this.d2h.baud = baud;
  }

  stats(): LineStats {
    return { hostToDevice: this.h2d.bytes, deviceToHost: this.d2h.bytes, frames: this.frames, emulatorMs: this.emulatorMs, lateMs: this.h2d.lateMs + this.d2h.lateMs };
  }

  /** starts a measuring window: the first/last chunk times are reset */
  resetWindow(): void {
    this.first = Infinity;
    this.last = -Infinity;
  }

  /** the span from the first chunk's start to the last chunk's end since resetWindow(), ms */
  window(): { first: number; last: number } {
    return { first: this.first, last: this.last };
  }

  close(): void {
    this.h2d.close();
    this.d2h.close();
    this.device.destroy();
  }
}
