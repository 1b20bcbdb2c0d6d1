/**
 * Test doubles for the Shtrih host side: an in-memory byte port and a scripted device peer that follows the
 * device rules of kkt-protocols.md §1.3, with injectable faults. Deliberately independent of drivers/emulator.
 */
import { MemPort, hex } from '../helpers/mem-port.ts';

export { MemPort, hex };

const ENQ = 0x05;
const STX = 0x02;
const ACK = 0x06;
const NAK = 0x15;

export function frameOf(payload: Buffer): Buffer {
  let x = payload.length;
  for (const b of payload) x ^= b;
  return Buffer.concat([Buffer.from([STX, payload.length]), payload, Buffer.from([x])]);
}



export interface PeerFaults {
  /** answers nothing at all */
  silent?: boolean;
  /** 0xFF before every control byte and frame */
  fillers?: boolean;
  /** the next n good frames are NAKed as if damaged */
  nakFrames?: number;
  /** the next n frames are lost on the way to the device */
  dropFrames?: number;
  /** the next n frames are taken and executed but their ACK is lost */
  loseAcks?: number;
  /** the next n answer transmissions are lost (the answer stays pending) */
  loseAnswers?: number;
  /** the next n answer transmissions arrive with a bad LRC */
  corruptAnswers?: number;
  /** the next n executed commands lose their answer for good (device goes idle: ENQ → NAK) */
  forgetAnswers?: number;
  /** ACK frames and ENQs but never produce an answer */
  hang?: boolean;
  /** execute the next frame, then go silent (ACK lost too) */
  silentAfterFrame?: boolean;
  /** ACK the next frame, then go silent */
  silentAfterAck?: boolean;
  /** one 0xFF after the host's ACK of an answer, as registers on TCP/RNDIS do */
  tcpFiller?: boolean;
  /** bytes sent before every answer frame */
  junkBeforeAnswer?: Buffer;
}

export type Handler = (request: Buffer) => Buffer;

/** A scripted device: one command at a time, answers held until ACKed, faults consumed as they trigger. */
export class ShtrihPeer {
  /** request payloads executed, in order */
  readonly executed: Buffer[] = [];
  enqCount = 0;
  framesSeen = 0;
  pending: Buffer | undefined;
  private preparing = false;
  private collecting: number[] | undefined;

  constructor(readonly port: MemPort, public handler: Handler, public faults: PeerFaults = {}) {
    port.fromHost = (chunk) => {
      for (const b of chunk) this.onByte(b);
    };
  }

  /** faults armed when a good frame of that command ("FF45", "41" …) first arrives, before it is handled */
  readonly faultsOn = new Map<string, PeerFaults>();

  executedCodes(): string[] {
    return this.executed.map(nameOf);
  }

  private send(bytes: number[] | Buffer): void {
    const b = Buffer.from(bytes);
    this.port.toHost(this.faults.fillers ? Buffer.concat([Buffer.from([0xff]), b]) : b);
  }

  private onByte(b: number): void {
    if (this.collecting) {
      this.collecting.push(b);
      const len = this.collecting[1];
      if (len !== undefined && this.collecting.length === len + 3) {
        const frame = Buffer.from(this.collecting);
        this.collecting = undefined;
        this.onFrame(frame);
      }
      return;
    }
    if (b === STX) this.collecting = [b];
    else if (b === ENQ) this.onEnq();
    else if (b === ACK) this.onHostAck();
  }

  private onHostAck(): void {
    if (this.pending !== undefined && this.faults.tcpFiller) this.port.toHost(Buffer.from([0xff]));
    this.pending = undefined;
  }

  private onEnq(): void {
    this.enqCount++;
    if (this.faults.silent) return;
    if (this.preparing) return this.send([ACK]);
    if (this.pending === undefined) return this.send([NAK]);
    this.send([ACK]);
    this.transmit();
  }

  private onFrame(frame: Buffer): void {
    this.framesSeen++;
    const f = this.faults;
    const payload = checkedPayload(frame);
    if (payload) this.armFaults(nameOf(payload));
    if (f.silent) return;
    if (take(f, 'dropFrames')) return;
    if (!payload || take(f, 'nakFrames')) return this.send([NAK]);
    if (f.silentAfterFrame) {
      f.silent = true;
      this.execute(payload);
      return;
    }
    if (!take(f, 'loseAcks')) this.send([ACK]);
    if (f.silentAfterAck) {
      f.silent = true;
      return;
    }
    if (f.hang) {
      this.preparing = true;
      return;
    }
    this.execute(payload);
    if (take(f, 'forgetAnswers')) {
      this.pending = undefined;
      return;
    }
    this.transmit();
  }

  private armFaults(name: string): void {
    const armed = this.faultsOn.get(name);
    if (!armed) return;
    this.faultsOn.delete(name);
    Object.assign(this.faults, armed);
  }

  private execute(payload: Buffer): void {
    this.executed.push(payload);
    this.pending = this.handler(payload);
  }

  private transmit(): void {
    if (this.pending === undefined || take(this.faults, 'loseAnswers')) return;
    const frame = frameOf(this.pending);
    if (take(this.faults, 'corruptAnswers')) frame[frame.length - 1] = frame[frame.length - 1]! ^ 0x5a;
    if (this.faults.junkBeforeAnswer) this.port.toHost(this.faults.junkBeforeAnswer);
    this.send(frame);
  }
}

function take(f: PeerFaults, key: 'dropFrames' | 'nakFrames' | 'loseAcks' | 'loseAnswers' | 'corruptAnswers' | 'forgetAnswers'): boolean {
  const n = f[key] ?? 0;
  if (n <= 0) return false;
  f[key] = n - 1;
  return true;
}

export function nameOf(p: Buffer): string {
  return (p[0] === 0xff ? `FF${p[1]!.toString(16).padStart(2, '0')}` : p[0]!.toString(16).padStart(2, '0')).toUpperCase();
}

function checkedPayload(frame: Buffer): Buffer | undefined {
  const len = frame[1]!;
  let x = len;
  for (let i = 2; i < 2 + len; i++) x ^= frame[i]!;
  return x === frame[frame.length - 1] ? frame.subarray(2, 2 + len) : undefined;
}

/** Link options for tests: short timeouts so failures are quick. */
export const fastLink = {
  enqTimeoutMs: 40,
  ackTimeoutMs: 40,
  frameTimeoutMs: 60,
  quietMs: 5,
  retries: 4,
  answerWaits: 2,
  defaultAnswerTimeoutMs: 80,
  answerTimeouts: { 0x10: 80, 0x11: 80, 0x40: 80, 0x41: 80, 0xe0: 80, 0xff45: 80 },
};
