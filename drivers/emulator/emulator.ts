/**
 * One emulated register: clock, fiscal journal, device state machine and link faults, attachable to streams.
 * `protocol` picks the wire front-end (Shtrih-M by default, or ATOL v3); the register model is the same.
 */
import net from 'node:net';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { AtolDevice, type AtolModel } from './atol/device.ts';
import { AtolLink } from './atol/link.ts';
import { DeviceClock, type DeviceClockOptions } from './clock.ts';
import { ShtrihDevice, type DeviceOptions, type EmulatedDevice } from './device.ts';
import { LinkFaults } from './faults.ts';
import { Journal, type FiscalDocument, type JournalIdentity } from './journal.ts';
import { RegisterError } from './register.ts';
import { DeviceLink, type LinkOptions } from './link.ts';

export type EmulatorProtocol = 'shtrih' | 'atol';

export interface EmulatorOptions {
  /** wire protocol; default 'shtrih' */
  protocol?: EmulatorProtocol;
  /** ATOL model (A5, 3F) when protocol is 'atol' */
  atolModel?: AtolModel;
  /** journal file; in memory when absent */
  journalPath?: string;
  /** identity of a new FN */
  identity?: Partial<JournalIdentity>;
  clock?: DeviceClockOptions;
  device?: Omit<DeviceOptions, 'journal' | 'clock'>;
  link?: Omit<LinkOptions, 'faults'>;
}

export class Emulator {
  readonly protocol: EmulatorProtocol;
  readonly clock: DeviceClock;
  readonly journal: Journal;
  /**
   * The Shtrih front-end. With protocol 'atol' it is not attached to any wire (it only shares the register);
   * use `atol` or `frontEnd` for ATOL state and faults.
   */
  readonly device: ShtrihDevice;
  /** the ATOL front-end when protocol is 'atol' */
  readonly atol: AtolDevice | undefined;
  readonly faults = new LinkFaults();
  private readonly links = new Set<DeviceLink | AtolLink>();

  constructor(private readonly opts: EmulatorOptions = {}) {
    this.protocol = opts.protocol ?? 'shtrih';
    this.clock = new DeviceClock(opts.clock);
    this.journal = new Journal({ ...(opts.journalPath ? { path: opts.journalPath } : {}), ...(opts.identity ? { identity: opts.identity } : {}) });
    this.device = new ShtrihDevice({ ...opts.device, journal: this.journal, clock: this.clock });
    if (opts.journalPath) this.device.register.tapePath = join(dirname(opts.journalPath), 'tape.txt');
    this.atol = this.protocol === 'atol'
      ? new AtolDevice({ journal: this.journal, clock: this.clock, register: this.device.register, ...(opts.atolModel ? { model: opts.atolModel } : {}) })
      : undefined;
  }

  /** the front-end serving the wire, whichever protocol */
  get frontEnd(): EmulatedDevice {
    return this.atol ?? this.device;
  }

  /** serves the protocol on a stream (a pty, a TCP socket, one end of a duplex pair) */
  attach(stream: Duplex, linkOpts: Omit<LinkOptions, 'faults'> = {}): DeviceLink | AtolLink {
    const merged = { ...this.opts.link, ...linkOpts, faults: this.faults };
    const link = this.atol
      ? new AtolLink(stream, this.atol, {
        faults: this.faults,
        interfaceId: stream instanceof net.Socket ? 6 : 4,
        ...(merged.printMs === undefined ? {} : { printMs: merged.printMs }),
        ...(merged.baud === undefined ? {} : { baud: merged.baud }),
        ...(merged.log ? { log: merged.log } : {}),
      })
      : new DeviceLink(stream, this.device, merged);
    this.links.add(link);
    stream.once('close', () => this.detach(link));
    return link;
  }

  detach(link: DeviceLink | AtolLink): void {
    link.close();
    this.links.delete(link);
  }

  advanceClock(ms: number): void {
    this.clock.advance(ms);
  }

  /** a receipt typed on the register's keyboard (no host sent it): in the journal and the registers */
  keyboardReceipt(sum: number, kind: 'cash' | 'card' = 'cash'): FiscalDocument {
    if (this.frontEnd.receiptOpen) throw new Error('a receipt is open on the register');
    try {
      return this.device.register.keyboardReceipt(sum, kind);
    } catch (e) {
      if (e instanceof RegisterError) throw new Error(`register refuses: ${e.code}`);
      throw e;
    }
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
