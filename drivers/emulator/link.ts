/**
 * The device side of the Shtrih-M byte exchange (kkt-protocols.md §1.3) over any Duplex stream:
 *  - ENQ: NAK when idle; ACK when an answer is being prepared or held unacknowledged, then (re)send it;
 *  - a frame with a good LRC: ACK, execute, send the answer, hold it until the host ACKs;
 *  - a bad LRC: NAK; a host NAK of the answer: wait for ENQ, then resend;
 *  - a partial frame is discarded after the inter-byte timeout; a new frame while an answer is held is a new command.
 */
import type { Duplex } from 'node:stream';
import { ACK, ENQ, FILLER, NAK, STX, decodeFrame, encodeFrame } from '../shtrih/frame.ts';
import { LinkFaults } from './faults.ts';

export interface RequestHandler {
  handle(request: Buffer): Buffer;
  /** closing commands and reports take `printMs` */
  printsLong(request: Buffer): boolean;
}

export interface LinkOptions {
  /** print time of closing commands and reports, ms; default 0 */
  printMs?: number;
  /** pace output at this line speed (bytes × 10 / baud); 0 = instant (default) */
  baud?: number;
  /** a partial frame is dropped after this silence, ms; default 50 */
  interByteTimeoutMs?: number;
  faults?: LinkFaults;
  /** send 0xFF after the host ACKs an answer, as devices do over TCP/RNDIS */
  fillerAfterAck?: boolean;
  /** called with every event, for logs */
  log?: (event: string) => void;
}

export type LinkState = 'idle' | 'busy' | 'holding';

export class DeviceLink {
  readonly faults: LinkFaults;
  private state: LinkState = 'idle';
  private held: Buffer | undefined;
  private sendWhenReady = false;
  private rx: number[] | undefined;
  private rxTimer: NodeJS.Timeout | undefined;
  private execTimer: NodeJS.Timeout | undefined;
  private outChain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly printMs: number;
  private readonly baud: number;
  private readonly interByteMs: number;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  constructor(private readonly stream: Duplex, private readonly device: RequestHandler, private readonly opts: LinkOptions = {}) {
    this.faults = opts.faults ?? new LinkFaults();
    this.printMs = opts.printMs ?? 0;
    this.baud = opts.baud ?? 0;
    this.interByteMs = opts.interByteTimeoutMs ?? 50;
    stream.on('data', this.onData);
    stream.on('error', (e) => this.log(`stream error: ${e.message}`));
  }

  get linkState(): LinkState {
    return this.state;
  }

  /** Stops listening; a command being executed still completes on the device, its answer is not sent. */
  close(): void {
    this.closed = true;
    this.stream.off('data', this.onData);
    clearTimeout(this.rxTimer);
    clearTimeout(this.execTimer);
  }

  private receive(chunk: Buffer): void {
    if (this.faults.silent) {
      this.rx = undefined;
      return;
    }
    for (const b of chunk) this.byte(b);
  }

  private byte(b: number): void {
    if (this.rx) return this.collect(b);
    switch (b) {
      case ENQ:
        return this.enq();
      case STX:
        if (this.state === 'busy') return; // busy executing: the device does not listen for frames
        this.rx = [b];
        return this.armRxTimer();
      case ACK:
        return this.hostAck();
      case NAK:
        return this.log('host NAK: waiting for ENQ');
      default:
        return; // 0xFF fillers and line noise
    }
  }

  private collect(b: number): void {
    const rx = this.rx!;
    rx.push(b);
    this.armRxTimer();
    if (rx.length >= 2 && rx.length === rx[1]! + 3) {
      this.rx = undefined;
      clearTimeout(this.rxTimer);
      this.frame(Buffer.from(rx));
    }
  }

  private armRxTimer(): void {
    clearTimeout(this.rxTimer);
    this.rxTimer = setTimeout(() => {
      this.log(`inter-byte timeout: dropped ${this.rx?.length ?? 0} bytes`);
      this.rx = undefined;
    }, this.interByteMs);
  }

  private enq(): void {
    if (this.state === 'idle') return this.out(Buffer.from([NAK]));
    this.out(Buffer.from([ACK]));
    if (this.state === 'busy') this.sendWhenReady = true;
    else this.sendAnswer();
  }

  private hostAck(): void {
    if (this.state !== 'holding') return;
    this.state = 'idle';
    this.held = undefined;
    if (this.opts.fillerAfterAck) this.out(Buffer.from([FILLER]));
  }

  private frame(frame: Buffer): void {
    const payload = decodeFrame(frame);
    if (!payload || this.faults.take('nak-frame')) {
      this.log(payload ? 'fault: NAK a good frame' : 'bad LRC: NAK');
      return this.out(Buffer.from([NAK]));
    }
    if (this.state === 'holding') this.log('new command: the held answer is dropped');
    this.held = undefined;
    if (this.faults.take('drop-ack')) this.log('fault: ACK not sent');
    else this.out(Buffer.from([ACK]));
    this.execute(payload);
  }

  private execute(request: Buffer): void {
    this.state = 'busy';
    this.sendWhenReady = false;
    const answer = encodeFrame(this.device.handle(request));
    const delay = (this.device.printsLong(request) ? this.printMs : 0) + this.faults.takeStall();
    // An instant command answers at the next turn of the event loop, not through a 0 ms timer: Node's timers fire
    // after at least 1 ms, which a device that executes in microseconds does not take (and which the bench counted
    // as the register's time, ~1 ms per command).
    if (delay > 0) this.execTimer = setTimeout(() => this.answerReady(answer), delay);
    else setImmediate(() => this.answerReady(answer));
  }

  private answerReady(answer: Buffer): void {
    if (this.closed) return;
    this.state = 'holding';
    this.held = answer;
    const asked = this.sendWhenReady;
    this.sendWhenReady = false;
    if (!asked && this.faults.take('drop-answer')) return this.log('fault: answer held back until ENQ');
    this.sendAnswer();
  }

  private sendAnswer(): void {
    const answer = this.held;
    if (!answer) return;
    if (this.faults.take('garble-answer')) {
      const bad = Buffer.from(answer);
      bad[2] = bad[2]! ^ 0x5a;
      this.log('fault: garbled answer');
      return this.out(bad);
    }
    this.out(answer);
  }

  /** writes in order; with a baud rate, each chunk arrives after its transmission time */
  private out(bytes: Buffer): void {
    if (this.closed || this.faults.silent) return;
    if (this.baud <= 0) return this.write(bytes);
    const ms = (bytes.length * 10 * 1000) / this.baud;
    this.outChain = this.outChain.then(() => new Promise<void>((r) => setTimeout(r, ms))).then(() => this.write(bytes));
  }

  private write(bytes: Buffer): void {
    if (this.closed || this.stream.destroyed || !this.stream.writable) return;
    try {
      this.stream.write(bytes);
    } catch (e) {
      this.log(`write failed: ${(e as Error).message}`);
    }
  }

  private log(event: string): void {
    this.opts.log?.(event);
  }
}
