/** One emulated register: clock, fiscal journal, device state machine and link faults, attachable to streams. */
import type { Duplex } from 'node:stream';
import { DeviceClock, type DeviceClockOptions } from './clock.ts';
import { ShtrihDevice, type DeviceOptions } from './device.ts';
import { LinkFaults } from './faults.ts';
import { Journal, type JournalIdentity } from './journal.ts';
import { DeviceLink, type LinkOptions } from './link.ts';

export interface EmulatorOptions {
  /** journal file; in memory when absent */
  journalPath?: string;
  /** identity of a new FN */
  identity?: Partial<JournalIdentity>;
  clock?: DeviceClockOptions;
  device?: Omit<DeviceOptions, 'journal' | 'clock'>;
  link?: Omit<LinkOptions, 'faults'>;
}

export class Emulator {
  readonly clock: DeviceClock;
  readonly journal: Journal;
  readonly device: ShtrihDevice;
  readonly faults = new LinkFaults();
  private readonly links = new Set<DeviceLink>();

  constructor(private readonly opts: EmulatorOptions = {}) {
    this.clock = new DeviceClock(opts.clock);
    this.journal = new Journal({ ...(opts.journalPath ? { path: opts.journalPath } : {}), ...(opts.identity ? { identity: opts.identity } : {}) });
    this.device = new ShtrihDevice({ ...opts.device, journal: this.journal, clock: this.clock });
  }

  /** serves the protocol on a stream (a pty, a TCP socket, one end of a duplex pair) */
  attach(stream: Duplex, linkOpts: Omit<LinkOptions, 'faults'> = {}): DeviceLink {
    const link = new DeviceLink(stream, this.device, { ...this.opts.link, ...linkOpts, faults: this.faults });
    this.links.add(link);
    stream.once('close', () => this.detach(link));
    return link;
  }

  detach(link: DeviceLink): void {
    link.close();
    this.links.delete(link);
  }

  advanceClock(ms: number): void {
    this.clock.advance(ms);
  }

  /** the OFD acknowledges the oldest `count` documents (all by default) */
  markOfdSent(count?: number): number {
    return this.journal.markOfdSent(count);
  }

  close(): void {
    for (const l of this.links) l.close();
    this.links.clear();
    this.journal.close();
  }
}
