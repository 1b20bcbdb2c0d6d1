/** Host end of an in-memory byte line for the protocol tests (Shtrih and ATOL): a BytePort without a device. */
import type { BytePort } from '../../drivers/transport.ts';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Host end of an in-memory line; the device end is `toHost` / `fromHost`. */
export class MemPort implements BytePort {
  readonly written: Buffer[] = [];
  fromHost: (chunk: Buffer) => void = () => undefined;
  private dataListeners: Array<(chunk: Buffer) => void> = [];
  private goneListeners: Array<(reason: Error) => void> = [];
  private goneReason: Error | undefined;

  async write(data: Buffer): Promise<void> {
    if (this.goneReason) throw this.goneReason;
    const copy = Buffer.from(data);
    this.written.push(copy);
    setImmediate(() => this.fromHost(copy));
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
  }

  onGone(listener: (reason: Error) => void): void {
    if (this.goneReason) listener(this.goneReason);
    else this.goneListeners.push(listener);
  }

  async close(): Promise<void> {
    this.pull(new Error('closed'));
  }

  /** bytes from the device to the host */
  toHost(chunk: Buffer): void {
    if (this.goneReason) return;
    setImmediate(() => {
      for (const l of this.dataListeners) l(Buffer.from(chunk));
    });
  }

  /** the cable is pulled */
  pull(reason = new Error('cable pulled')): void {
    if (this.goneReason) return;
    this.goneReason = reason;
    for (const l of this.goneListeners.splice(0)) l(reason);
  }
}
