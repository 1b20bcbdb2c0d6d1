/**
 * USB hot-plug of known registers (the `usb` package, v3: libusb hot-plug through its native Emitter).
 *
 * A known register detached → the gateway drops the register link at once (health shows it down; the port is gone
 * anyway); a known register attached while the link is down → the dispatcher is woken to reopen it now instead of
 * after its backoff. Where libusb cannot see USB (no /sys/bus/usb: containers, CI) this degrades to "no hot-plug
 * events" with one log line; a pulled cable is then found by the exchange timeouts (NO_LINK) as before.
 *
 * The WebUSB wrapper of `usb` (usb.addEventListener) is not used: it re-throws native errors from a timer and
 * leaves an unhandled rejection when /sys/bus/usb is missing, which would crash the gateway.
 */
import { existsSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.ts';
import { guessFamily } from './ports.ts';

export interface UsbDeviceInfo {
  /** libusb's handle string; detach events carry only this */
  handle: string;
  vendorId: number;
  productId: number;
}

/** What hot-plug needs of libusb (injectable for tests). */
export interface UsbBackend {
  list(): Promise<UsbDeviceInfo[]>;
  onAttach(cb: (d: UsbDeviceInfo) => void): Promise<void>;
  onDetach(cb: (handle: string) => void): Promise<void>;
  stop(): Promise<void>;
}

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

/** Known register (Shtrih-M family, ATOL); DFU bootloaders excluded. */
export function isKnownRegister(vendorId: number, productId: number): boolean {
  const g = guessFamily(hex4(vendorId), hex4(productId));
  return g.family !== undefined && !/bootloader/i.test(g.note ?? '');
}

/** The real backend: `usb` v3's native emitter (libusb hot-plug). */
export async function nativeUsbBackend(): Promise<UsbBackend> {
  const usb = await import('usb/index.js');
  const emitter = new usb.Emitter();
  let attached = false;
  let detached = false;
  const info = (d: { handle: string; vendorId: number; productId: number }): UsbDeviceInfo => ({ handle: d.handle, vendorId: d.vendorId, productId: d.productId });
  return {
    list: async () => (await usb.nativeGetDevices()).map(info),
    onAttach: async (cb) => {
      await emitter.addAttach((d) => cb(info(d)));
      attached = true;
    },
    onDetach: async (cb) => {
      await emitter.addDetach((h) => cb(h));
      detached = true;
    },
    stop: async () => {
      if (attached) await emitter.removeAttach().catch(() => undefined);
      if (detached) await emitter.removeDetach().catch(() => undefined);
      attached = detached = false;
    },
  };
}

export interface HotplugOptions {
  logger: Logger;
  /** default: nativeUsbBackend */
  backend?: () => Promise<UsbBackend>;
}

/**
 * Emits 'attach' and 'detach' with { vid, pid } (hex) for known registers. `active` tells whether hot-plug events
 * are available at all.
 */
export class RegisterHotplug extends EventEmitter {
  private backend: UsbBackend | undefined;
  /** handle → device, for known registers present now (detach events carry only the handle) */
  private readonly present = new Map<string, UsbDeviceInfo>();
  active = false;

  constructor(private readonly o: HotplugOptions) {
    super();
  }

  /** Starts watching; never throws (logs and stays inactive when USB cannot be watched). */
  async start(): Promise<void> {
    const log = this.o.logger;
    let backend: UsbBackend | undefined;
    try {
      backend = await (this.o.backend ?? nativeUsbBackend)();
      for (const d of await backend.list()) if (isKnownRegister(d.vendorId, d.productId)) this.present.set(d.handle, d);
      await backend.onAttach((d) => this.onAttach(d));
      await backend.onDetach((h) => this.onDetach(h));
      this.backend = backend;
      this.active = true;
      log.info({ registers: [...this.present.values()].map((d) => `${hex4(d.vendorId)}:${hex4(d.productId)}`) }, 'USB hot-plug watch on');
    } catch (err) {
      await backend?.stop().catch(() => undefined);
      log.info({ reason: (err as Error).message }, 'USB hot-plug not available; a pulled cable is found by exchange timeouts');
    }
  }

  private onAttach(d: UsbDeviceInfo): void {
    if (!isKnownRegister(d.vendorId, d.productId)) return;
    this.present.set(d.handle, d);
    this.o.logger.info({ usb: `${hex4(d.vendorId)}:${hex4(d.productId)}` }, 'register attached (USB)');
    this.emit('attach', { vid: hex4(d.vendorId), pid: hex4(d.productId) });
  }

  private onDetach(handle: string): void {
    const d = this.present.get(handle);
    if (!d) return;
    this.present.delete(handle);
    this.o.logger.warn({ usb: `${hex4(d.vendorId)}:${hex4(d.productId)}` }, 'register detached (USB)');
    this.emit('detach', { vid: hex4(d.vendorId), pid: hex4(d.productId) });
  }

  async stop(): Promise<void> {
    const b = this.backend;
    this.backend = undefined;
    this.active = false;
    await b?.stop();
  }
}

/** What hot-plug acts on: a register's link and dispatcher (and its port, to tell which register left). */
export interface HotplugTarget {
  link: { readonly state: { up: boolean }; drop(reason: Error): Promise<void> };
  dispatcher: { retryNow(): void };
  port?: string;
}

/** a serial port path that is gone from /dev (its USB device left); tcp:// ports are never "gone" */
function portGone(port: string | undefined): boolean {
  return port !== undefined && !port.startsWith('tcp://') && !existsSync(port);
}

/**
 * Wires hot-plug to the gateway's registers: detach → drop the link of the register that left now (health: link
 * down) and wake its dispatcher, which then finds NO_LINK and backs off; with several registers, the one whose port
 * vanished from /dev is the one that left (the others' receipts are not cut). Attach → wake every register whose
 * link is down to reopen at once; a register whose link is up is left alone.
 */
export function wireHotplug(hp: RegisterHotplug, gw: HotplugTarget | { registers: readonly HotplugTarget[] }): void {
  const targets = (): readonly HotplugTarget[] => ('registers' in gw ? gw.registers : [gw]);
  hp.on('detach', (d: { vid: string; pid: string }) => {
    const all = targets();
    const gone = all.length === 1 ? all : all.filter((r) => portGone(r.port));
    for (const r of gone) void r.link.drop(new Error(`register USB ${d.vid}:${d.pid} detached`)).then(() => r.dispatcher.retryNow());
  });
  hp.on('attach', () => {
    for (const r of targets()) if (!r.link.state.up) r.dispatcher.retryNow();
  });
}
