/**
 * FiscalDriver for ATOL registers speaking protocol v3 / 3.1 (kkt-protocols.md §2; ATOL 20Ф … 92Ф, Sigma). Built from
 * injected parts like ShtrihDriver: a byte port (or a factory), passwords, link timeouts, quirks, a logger and a
 * clock. One operation at a time; one task in flight.
 */
import {
  DriverError, type DeviceInfo, type DeviceStatus, type DocumentRef, type FiscalDriver, type FiscalReceipt, type FiscalizeOptions,
  type FiscalResult, type FnState, type OpName, type PaperState, type Payments, type RegistrationData, type ShiftFigures, type TaxSystem, type ShiftResult, type ShiftState, type ZReportResult,
} from '../types.ts';
import type { BytePort } from '../transport.ts';
import { bestEffort, errText, KnownState, optionalRead, reopenPort } from '../host-link.ts';
import * as codec from './codec.ts';
import { Cmd, FnSub, Mode, Reg } from './codec.ts';
import { DriverCodes, UncertainError } from './errors.ts';
import { resolveQuirks, taxTypeFor, type AtolQuirks } from './quirks.ts';
import { AtolLink, LinkError, Mutex, silentLogger, taskName, type LinkOptions, type Logger, type TaskResult } from './tasks.ts';

export interface AtolDriverOptions {
  /** an open port; or give `openPort` */
  port?: BytePort;
  /** opens a new port; called by open() and again after the port is gone (cable pulled and back) */
  openPort?: () => Promise<BytePort>;
  /**
   * `access`: the 2-byte BCD password in front of every command (default 0000); `mode`: the password of 56h for
   * registration, X and Z (default 30, the system administrator); `programming`: for the tax-table probe (default 30).
   */
  passwords?: { access?: number; mode?: number; programming?: number };
  /** packet timeout, retries, per-command task timeouts */
  link?: LinkOptions;
  /** every ⚠ of the protocol; see quirks.ts */
  quirks?: Partial<AtolQuirks>;
  /** 45h polling interval while a report prints, and while waiting for paper; default 300 ms */
  pollIntervalMs?: number;
  /** how long an X report or the end of a print is waited for; default 60 s */
  printWaitMs?: number;
  /** how long the Z report (print, then the FN part) is waited for; default 180 s */
  zWaitMs?: number;
  /** how long continuePrint() waits for paper; default 120 s */
  continueWaitMs?: number;
  /** EB section byte; default 0 (no section) [A1] */
  section?: number;
  logger?: Logger;
  /** clock; default () => new Date() */
  now?: () => Date;
  /**
   * How long the register's clock is extrapolated from its last reading (host monotonic clock) before a brief status
   * reads the wire again; 0: every status reads the wire. Default 10 s. See KnownState (drivers/host-link.ts).
   */
  stateTtlMs?: number;
}

interface ExecOptions {
  /** a closing command: a possible execution becomes UncertainError */
  uncertain?: { lastFdBefore: number | undefined };
  signal?: AbortSignal;
  idempotent?: boolean;
  timeoutMs?: number;
}

const RECEIPT_OPEN_CODES = new Set([0x9b, 0x82, 0x87, 0x89]);
const SHIFT_EXPIRED_CODES = new Set([0x88, 0xf0]);
const NOT_FOUND_CODES = new Set([0xda]);
/** a device that does not know A4 40: refusals that mean "not this command", not "no such document" */
const UNSUPPORTED_CODES = new Set([0x7a, 0x46, 0xf2, 0x66, 0xc8, 0xd3, 0xe7]);
const MODE_BYTE_X_PRINTING = 0x22;
const MODE_BYTE_Z_PRINTING = 0x23;
const MODE_BYTE_Z_FN = 0x17;
const DAY_MS = 24 * 3600_000;

export class AtolDriver implements FiscalDriver {
  private link: AtolLink | undefined;
  private linkFresh = false;
  private deviceInfo: DeviceInfo | undefined;
  private closed = false;
  private readonly mutex = new Mutex();
  private readonly log: Logger;
  private readonly q: AtolQuirks;
  private readonly access: number;
  private readonly modePwd: number;
  private readonly progPwd: number;
  private readonly now: () => Date;
  /** tag 1199 value → tax table row, when the probe read the table */
  private taxRows: Map<number, number> | undefined;
  /** a 24 h refusal (88h/F0h) was seen in this shift; cleared by a Z report */
  private expiredSeen = false;
  /** the open shift: number and opening time (register clock), when this driver opened it or read it */
  private shiftOpened: { number: number; at: string } | undefined;
  /** what the last exchanges prove (a brief status without an exchange, a receipt without its status reads) */
  private readonly known: KnownState;

  constructor(private readonly opts: AtolDriverOptions) {
    if (!opts.port && !opts.openPort) throw new TypeError('AtolDriver needs a port or an openPort factory');
    this.log = opts.logger ?? silentLogger;
    this.q = resolveQuirks(opts.quirks);
    this.access = opts.passwords?.access ?? 0;
    this.modePwd = opts.passwords?.mode ?? 30;
    this.progPwd = opts.passwords?.programming ?? 30;
    this.now = opts.now ?? (() => new Date());
    this.known = new KnownState(opts.stateTtlMs ?? 10_000);
  }

  // ------------------------------------------------------------------------------------------------ public API

  open(signal?: AbortSignal): Promise<DeviceInfo> {
    return this.serial(() => this.identify(signal));
  }

  info(): DeviceInfo | undefined {
    return this.deviceInfo;
  }

  status(opts: { brief?: boolean } = {}): Promise<DeviceStatus> {
    // right after a receipt closed successfully its exchanges prove the state: no exchange of its own
    return this.serial(() => this.known.status(opts.brief === true, () => this.readStatus(opts.brief === true)), true);
  }

  fiscalize(receipt: FiscalReceipt, signal?: AbortSignal, opts: FiscalizeOptions = {}): Promise<FiscalResult> {
    return this.serial(() => this.doFiscalize(receipt, signal, opts.ready), true);
  }

  cancelReceipt(): Promise<boolean> {
    return this.serial(async () => {
      const st = await this.deviceStatus();
      if (st.receiptState === 0) return false;
      await this.exec(codec.simple(this.access, Cmd.CANCEL_RECEIPT), codec.expectOk);
      return true;
    });
  }

  lastDocument(): Promise<DocumentRef> {
    return this.serial(() => this.readLastDocument());
  }

  findDocument(fdNumber: number): Promise<DocumentRef | undefined> {
    return this.serial(() => this.readDocument(fdNumber));
  }

  /** the registration data (A4 43; read at open and cached in info().registration) */
  registration(): Promise<RegistrationData | undefined> {
    return this.serial(async () => this.deviceInfo?.registration ?? (await this.readFnRegistration()));
  }

  /**
   * The register's own counters of the open shift (registers of [A6]'s catalogue): 06 receipts per receipt type,
   * 03 sums per receipt type and payment type, 04/05 cash in/out sums, 08/09 their counts, 0A cash in the drawer,
   * 28 the never-cleared sum per receipt type. ⚠ The value layouts (BCD of the whole value) are not confirmed by a
   * real device; a register the firmware refuses is named in `missing`, never a silent zero.
   */
  shiftFigures(): Promise<ShiftFigures> {
    return this.serial(() => this.readShiftFigures());
  }

  /** a fiscal document's copy from the FN (A4 45/46, TLVs decoded); undefined when the FN has no such document */
  documentCopy(fdNumber: number): Promise<codec.DocumentCopy | undefined> {
    return this.serial(async () => {
      try {
        const { type, tlvs } = await this.documentTlvsTyped(fdNumber);
        return codec.documentCopyFromTlv(fdNumber, type, tlvs);
      } catch (err) {
        if (err instanceof DriverError && err.deviceCode !== undefined && NOT_FOUND_CODES.has(err.deviceCode)) return undefined;
        throw err;
      }
    });
  }

  openShift(cashier?: { name: string; inn?: string }): Promise<ShiftResult> {
    return this.serial(() => this.doOpenShift(cashier));
  }

  closeShift(cashier?: { name: string; inn?: string }): Promise<ZReportResult> {
    return this.serial(() => this.doCloseShift(cashier));
  }

  xReport(): Promise<void> {
    return this.serial(() => this.doXReport());
  }

  /** 4C "print string" per line, from the selection mode with no receipt open (README: Print string) */
  printText(lines: string[]): Promise<void> {
    return this.serial(async () => {
      const st = await this.deviceStatus();
      if (st.receiptState !== 0) throw new DriverError(DriverCodes.RECEIPT_OPEN, 'retryable', 'a receipt is open on the device; cancel it first');
      await this.bestEffort(() => this.leaveMode(), undefined);
      for (const line of lines) await this.exec(codec.printString(this.access, line), codec.expectOk);
    });
  }

  cashIn(sum: number): Promise<void> {
    return this.serial(() => this.cash(Cmd.CASH_IN, sum));
  }

  cashOut(sum: number): Promise<void> {
    return this.serial(() => this.cash(Cmd.CASH_OUT, sum));
  }

  continuePrint(): Promise<void> {
    return this.serial(() => this.waitPaper(this.opts.continueWaitMs ?? 120_000));
  }

  close(): Promise<void> {
    return this.serial(async () => {
      this.closed = true;
      const link = this.link;
      this.link = undefined;
      await link?.close();
    });
  }

  // ------------------------------------------------------------------------------------------------ operations

  /** One operation at a time. Any but a status or a receipt (`keep`) forgets the proven state; so does any failure. */
  private serial<T>(job: () => Promise<T>, keep = false): Promise<T> {
    return this.mutex.run(() => this.known.run(job, keep));
  }

  /** C4, 3F, A5, A4 31, the serial register, the tax table probe. */
  private async identify(signal?: AbortSignal): Promise<DeviceInfo> {
    this.closed = false;
    const link = await this.ensureLink();
    if (this.linkFresh) {
      await link.abort(signal);
      this.linkFresh = false;
    }
    const st = await this.deviceStatus(signal);
    const type = await this.optional(() => this.exec(codec.simple(this.access, Cmd.DEVICE_INFO), codec.decodeDeviceType, { signal, idempotent: true }));
    const fnNumber = (await this.optional(() => this.readFnNumber())) ?? '';
    const serial = await this.optional(() => this.exec(codec.readRegister(this.access, Reg.SERIAL), codec.decodeRegisterNumber, { idempotent: true }));
    this.deviceInfo = {
      protocol: 'atol',
      model: type?.name || `ATOL model ${st.model}`,
      modelCode: type?.model ?? st.model,
      serial: serial ? String(serial) : st.serial,
      inn: '',
      fnNumber,
      firmware: type?.firmware ?? st.version,
    };
    await this.readRegistration(fnNumber !== '');
    if (this.q.probeTaxTable && this.taxRows === undefined && st.receiptState === 0) await this.probeTaxTable(st.mode);
    this.log.debug({ info: this.deviceInfo, mode: st.mode, submode: st.submode, taxRows: this.taxRows && [...this.taxRows] }, 'atol: device identified');
    return this.deviceInfo;
  }

  /** A4 43 → RegistrationData; a device refusing it → undefined */
  private async readFnRegistration(): Promise<RegistrationData | undefined> {
    const r = await this.optional(() => this.exec(codec.fn(this.access, FnSub.REGISTRATION), codec.decodeFnRegistration, { idempotent: true }));
    if (!r) return undefined;
    const m = r.modeBits;
    const out: RegistrationData = {
      inn: r.inn,
      registrationNumber: r.registrationNumber,
      taxSystems: taxSystemsOf(r.taxBits),
      modes: { encryption: (m & 1) !== 0, autonomous: (m & 2) !== 0, automatic: (m & 4) !== 0, services: (m & 8) !== 0, bso: (m & 16) !== 0, internet: (m & 32) !== 0 },
      modeBits: m,
      dateTime: r.dateTime,
    };
    if (r.extendedModeBits !== undefined) out.extendedModeBits = r.extendedModeBits;
    if (r.ofdInn) out.ofdInn = r.ofdInn;
    if (r.fdNumber) out.fdNumber = r.fdNumber;
    if (r.fiscalSign) out.fiscalSign = r.fiscalSign;
    return out;
  }

  /**
   * Registration data: A4 43 (the FN's registration result); a device without it: user INN 1018, registration number
   * 1037, tax systems 1062 from the FN's last document as TLV (A4 45/46 — every fiscal document carries 1018 and
   * 1037). Best effort, once per open.
   */
  private async readRegistration(haveFn: boolean): Promise<void> {
    const info = this.deviceInfo;
    if (!info || !haveFn) return;
    const reg = await this.readFnRegistration();
    if (reg) {
      info.registration = reg;
      info.inn = reg.inn;
      info.registrationNumber = reg.registrationNumber;
      info.taxSystems = reg.taxSystems;
      return;
    }
    try {
      const last = await this.exec(codec.readRegister(this.access, Reg.LAST_FD), codec.decodeLastFd, { idempotent: true });
      if (last.fdNumber === 0) return;
      const tlvs = codec.topLevelTlvs(await this.documentTlvs(last.fdNumber));
      const text = (tag: number): string | undefined => {
        const v = tlvs.get(tag);
        return v ? codec.decodeText(v).trim() : undefined;
      };
      const inn = text(1018);
      if (inn) info.inn = inn;
      const rnm = text(1037);
      if (rnm) info.registrationNumber = rnm;
      const sys = tlvs.get(1062);
      if (sys && sys.length > 0) info.taxSystems = taxSystemsOf(sys[0]!);
    } catch (err) {
      if (err instanceof LinkError) throw err;
      this.log.debug({ err: errText(err) }, 'atol: registration data not read');
    }
  }

  /**
   * ⚠ EB taxType (quirks.ts): reads table 13 «Налоги», field 3 (tax tag, [A6]) of rows 1…16 (until refused) in programming mode, and
   * maps tag 1199 values to rows. Best effort: any refusal leaves the configured numbering in force.
   */
  private async probeTaxTable(mode: number): Promise<void> {
    const rows = new Map<number, number>();
    try {
      if (mode !== Mode.SELECT) await this.leaveMode();
      await this.exec(codec.enterMode(this.access, Mode.PROGRAMMING, this.progPwd), codec.expectOk, { idempotent: true });
      for (let row = 1; row <= 16; row++) {
        let value: Buffer;
        try {
          value = await this.exec(codec.readTable(this.access, 13, row, 3), codec.decodeTableValue, { idempotent: true });
        } catch (err) {
          if (err instanceof LinkError) throw err;
          break;
        }
        const tag = tagValue(value);
        if (tag !== undefined && !rows.has(tag)) rows.set(tag, row);
      }
    } catch (err) {
      this.log.debug({ err: errText(err) }, 'atol: tax table probe failed; configured tax numbering used');
    } finally {
      await this.optional(() => this.exec(codec.simple(this.access, Cmd.LEAVE_MODE), codec.expectOk, { idempotent: true }));
    }
    this.taxRows = rows;
    if (rows.size > 0) this.log.debug({ rows: [...rows] }, 'atol: tax table probed');
  }

  private async readStatus(brief: boolean): Promise<DeviceStatus> {
    const st = await this.deviceStatus();
    const printer = await this.optional(() => this.printerState());
    const shift = await this.optional(() => this.shiftParams());
    // the FN's last FD: 91 34; a device refusing that register → the FN's own status (A4 30)
    const last = (await this.optional(() => this.exec(codec.readRegister(this.access, Reg.LAST_FD), codec.decodeLastFd, { idempotent: true })))
      ?? (await this.exec(codec.fn(this.access, FnSub.STATUS), codec.decodeFnStatus, { idempotent: true })).lastFd;
    const lastFd = typeof last === 'number' ? last : last.fdNumber;
    const out: DeviceStatus = {
      mode: st.mode,
      submode: st.submode,
      receiptOpen: st.receiptState !== 0,
      shift: this.shiftState(st, shift),
      paper: paperState(st, printer),
      coverOpen: st.coverOpen,
      dateTime: st.dateTime,
      fn: { serial: this.deviceInfo?.fnNumber ?? '', phase: 0, lastFd, warnings: 0 },
    };
    if (shift) {
      out.shiftNumber = shift.shiftNumber;
      out.receiptNumber = shift.receiptNumber;
    } else {
      out.shiftNumber = st.shiftOpen ? st.shiftNumber + 1 : st.shiftNumber;
    }
    if (!brief) await this.fullFnState(out.fn!);
    return out;
  }

  /** FN phase and warnings (A4 30), expiry (A4 32), OFD queue (A4 20, or registers 2C/2D). */
  private async fullFnState(fn: FnState): Promise<void> {
    const s = await this.optional(() => this.exec(codec.fn(this.access, FnSub.STATUS), codec.decodeFnStatus, { idempotent: true }));
    if (s) {
      fn.phase = s.phase;
      fn.warnings = s.warnings;
      if (!fn.serial) fn.serial = s.serial;
    }
    if (!fn.serial) fn.serial = (await this.optional(() => this.readFnNumber())) ?? '';
    const expiry = await this.optional(() => this.exec(codec.fn(this.access, FnSub.VALIDITY), codec.decodeFnValidity, { idempotent: true }));
    if (expiry) fn.expiry = expiry;
    const ex = await this.optional(() => this.exec(codec.fn(this.access, FnSub.EXCHANGE), codec.decodeExchangeStatus, { idempotent: true }));
    if (ex) {
      fn.unsentCount = ex.unsentCount;
      if (ex.firstDateTime) fn.unsentSince = ex.firstDateTime;
      return;
    }
    const count = await this.optional(() => this.exec(codec.readRegister(this.access, Reg.UNSENT_COUNT), codec.decodeRegisterNumber, { idempotent: true }));
    if (count !== undefined) fn.unsentCount = count;
    if (count) {
      const since = await this.optional(() => this.exec(codec.readRegister(this.access, Reg.UNSENT_DATE), codec.decodeRegisterDate, { idempotent: true }));
      if (since) fn.unsentSince = since;
    }
  }

  /**
   * 'expired' when the shift is open and either the device refused with 88h/F0h (24 h) in it, or this driver knows
   * when it opened and the register clock is 24 h past that. ATOL's 3F has no "expired" mode (Shtrih's mode 3).
   */
  private shiftState(st: codec.AtolStatus, shift: codec.ShiftParams | undefined): ShiftState {
    const open = shift ? shift.open : st.shiftOpen;
    if (!open) {
      this.expiredSeen = false;
      return 'closed';
    }
    if (this.expiredSeen) return 'expired';
    const opened = this.shiftOpened;
    if (opened && (!shift || shift.shiftNumber === opened.number)) {
      const age = msOf(st.dateTime) - msOf(opened.at);
      // a date that makes no sense (in the future, or a month old) is not taken as proof: the device's 88h still is
      if (Number.isFinite(age) && age >= DAY_MS && age < 31 * DAY_MS) return 'expired';
    }
    return 'open';
  }

  private async readShiftFigures(): Promise<ShiftFigures> {
    const missing: string[] = [];
    const reg = async (name: string, r: number, p1 = 0, p2 = 0): Promise<number | undefined> => {
      const v = await this.optional(() => this.exec(codec.readRegister(this.access, r, p1, p2), codec.decodeRegisterNumber, { idempotent: true }));
      if (v === undefined) missing.push(name);
      return v;
    };
    const ops: Array<[OpName, number]> = [['sell', 1], ['sell_refund', 2], ['buy', 4], ['buy_refund', 5]];
    const empty = (): Payments => ({ cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 });
    const counts = { sell: 0, sell_refund: 0, buy: 0, buy_refund: 0 } as Record<OpName, number>;
    const sums = { sell: empty(), sell_refund: empty(), buy: empty(), buy_refund: empty() } as Record<OpName, Payments>;
    const cumulative = { sell: 0, sell_refund: 0, buy: 0, buy_refund: 0 } as Record<OpName, number>;
    let haveCumulative = true;
    for (const [op, type] of ops) {
      counts[op] = (await reg(`counts.${op}`, 0x06, type)) ?? 0;
      for (const [kind, ptype] of codec.PAYMENT_TYPES) sums[op][kind] = (await reg(`sums.${op}.${kind}`, 0x03, type, ptype)) ?? 0;
      const c = await reg(`cumulative.${op}`, 0x28, type);
      if (c === undefined) haveCumulative = false;
      else cumulative[op] = c;
    }
    const out: ShiftFigures = {
      counts,
      sums,
      cashIn: (await reg('cashIn', 0x04)) ?? 0,
      cashOut: (await reg('cashOut', 0x05)) ?? 0,
      missing,
    };
    const inCount = await reg('cashInCount', 0x08);
    if (inCount !== undefined) out.cashInCount = inCount;
    const outCount = await reg('cashOutCount', 0x09);
    if (outCount !== undefined) out.cashOutCount = outCount;
    const drawer = await reg('cashInDrawer', 0x0a);
    if (drawer !== undefined) out.cashInDrawer = drawer;
    if (haveCumulative) out.cumulative = cumulative;
    const shift = await this.optional(() => this.shiftParams());
    if (shift) out.shiftNumber = shift.shiftNumber;
    return out;
  }

  private async doFiscalize(receipt: FiscalReceipt, signal?: AbortSignal, bound?: Promise<boolean>): Promise<FiscalResult> {
    if (this.q.probeTaxTable && this.taxRows === undefined) {
      // not probed at open (a receipt was open then): the tax rows before the receipt is encoded
      const st = await this.deviceStatus(signal);
      if (st.receiptState !== 0) throw new DriverError(DriverCodes.RECEIPT_OPEN, 'retryable', 'a receipt is open on the device; cancel it first');
      await this.probeTaxTable(st.mode);
    }
    const plan = this.receiptPlan(receipt); // encoded up front: a bad document fails before anything is printed
    // the state the last exchanges prove (the status just read, or the receipt before): no 3F/91 34 of our own
    const known = this.known.take();
    const ready = known !== undefined && !known.receiptOpen && known.shift === 'open' && known.paper === 'ok' && !known.coverOpen && known.fn !== undefined;
    let lastFdBefore: number;
    if (ready) {
      lastFdBefore = known.fn!.lastFd;
      if (known.mode !== Mode.REGISTRATION) await this.enterMode(Mode.REGISTRATION, signal);
    } else {
      await this.prepareForReceipt(signal);
      lastFdBefore = (await this.exec(codec.readRegister(this.access, Reg.LAST_FD), codec.decodeLastFd, { signal, idempotent: true })).fdNumber;
      await this.enterMode(Mode.REGISTRATION, signal);
    }
    // the mode change and the reads above start nothing; the receipt's opening waits for the job's binding
    if (bound && !(await bound)) throw new DriverError(DriverCodes.ABORTED, 'retryable', 'not sent: the job is not bound to the register');
    try {
      await this.exec(plan.open, codec.expectOk, { signal });
      for (const req of plan.body) {
        if (req[2] === Cmd.PAYMENT) await this.exec(req, codec.decodePayment, { signal });
        else await this.exec(req, codec.expectOk, { signal });
      }
    } catch (err) {
      this.noteExpiry(err);
      await this.cancelAfterFailure(err);
      throw this.receiptOpenError(err);
    }
    try {
      await this.exec(plan.close, codec.expectOk, { uncertain: { lastFdBefore } });
    } catch (err) {
      if (!(err instanceof UncertainError)) await this.cancelAfterFailure(err);
      throw err;
    }
    return this.fiscalResult(receipt, lastFdBefore, ready ? known : undefined);
  }

  /** Every request of the receipt, in order: 92, corrections' tags, per item EA (+ E8) EB, receipt tags, 99…, 4A. */
  private receiptPlan(r: FiscalReceipt): { open: Buffer; body: Buffer[]; close: Buffer } {
    const a = this.access;
    let type: number | undefined = codec.RECEIPT_TYPES[r.operation];
    if (r.correction) type = this.q.correctionTypes[r.operation];
    if (type === undefined) throw badDocument(`operation ${r.operation}${r.correction ? ' (correction)' : ''} has no ATOL receipt type`);
    const flags = this.q.noPrint ? this.q.noPrintFlag : 0;
    const tag = (t: codec.TagWrite): Buffer => codec.writeTag(a, t.tag, t.data);
    const body: Buffer[] = [];
    if (r.correction) body.push(...codec.correctionTags(r.correction).map(tag));
    for (const item of r.items) {
      const taxType = taxTypeFor(item.vat, this.q, this.taxRows);
      if (taxType === undefined) {
        throw badDocument(`VAT type ${String(item.vat)} has no row in this device's tax table${this.taxRows?.size ? '' : ' (table 13 not readable: set quirks.vatCodes)'}`);
      }
      body.push(codec.beginItem(a));
      body.push(...codec.itemTags(item).map(tag));
      body.push(
        codec.endItem(a, {
          price: item.price, quantity: item.quantity, sum: item.sum, taxType, taxSum: item.vatSum ?? 0,
          section: this.opts.section ?? 0, paymentObject: item.paymentObject, paymentMethod: item.paymentMethod, name: item.name,
        }, this.q.itemAttrEncoding),
      );
    }
    body.push(...codec.receiptTags(r).map(tag));
    for (const [kind, ptype] of codec.PAYMENT_TYPES) {
      const sum = r.payments[kind];
      if (sum > 0) body.push(codec.payment(a, ptype, sum));
    }
    return { open: codec.openReceipt(a, flags, type), body, close: codec.closeReceipt(a) };
  }

  /** Before a receipt: an open receipt or an expired shift is the caller's to handle; paper and cover; a closed shift is opened. */
  private async prepareForReceipt(signal?: AbortSignal): Promise<void> {
    const st = await this.deviceStatus(signal);
    if (st.receiptState !== 0) throw new DriverError(DriverCodes.RECEIPT_OPEN, 'retryable', 'a receipt is open on the device; cancel it first');
    if (st.coverOpen) throw new DriverError(DriverCodes.COVER_OPEN, 'operator', 'the printer cover is open; close it');
    if (!st.paperPresent) throw noPaper();
    if (st.shiftOpen && this.shiftState(st, undefined) === 'expired') {
      throw new DriverError(DriverCodes.SHIFT_EXPIRED, 'retryable', 'the shift is open for more than 24 h; close it (Z report) first');
    }
    if (!st.shiftOpen) await this.doOpenShift(undefined, signal);
  }

  private async fiscalResult(receipt: FiscalReceipt, lastFdBefore: number, known: DeviceStatus | undefined): Promise<FiscalResult> {
    let fd: { fdNumber: number; fiscalSign: number; dateTime: string } | undefined = await this.bestEffort(
      () => this.exec(codec.readRegister(this.access, Reg.LAST_RECEIPT), codec.decodeLastReceipt, { idempotent: true }),
      undefined,
    );
    if (!fd || fd.fdNumber <= lastFdBefore) {
      fd = await this.bestEffort(() => this.exec(codec.readRegister(this.access, Reg.LAST_FD), codec.decodeLastFd, { idempotent: true }), undefined);
    }
    if (!fd || fd.fdNumber <= lastFdBefore) {
      // 4A said done, but the FN's last document cannot be read or did not move: only the FN can settle it
      throw new UncertainError(`4A: the receipt was closed but its fiscal document cannot be read (FN last FD before: ${lastFdBefore})`, { command: '4A', lastFdBefore });
    }
    // the shift's and the receipt's numbers: the proven ones before it, when the FN made exactly this one document
    const proven = known?.shiftNumber !== undefined && known.receiptNumber !== undefined && !receipt.correction && fd.fdNumber === lastFdBefore + 1
      ? { shiftNumber: known.shiftNumber, receiptNumber: known.receiptNumber + 1 }
      : undefined;
    const shift = proven ?? (await this.bestEffort(() => this.shiftParams(), undefined));
    const fnNumber = this.deviceInfo?.fnNumber || (await this.bestEffort(() => this.readFnNumber(), ''));
    // the device stays in mode 1: the next receipt needs it (two exchanges fewer). One 3F after the receipt proves
    // the state for the next brief status and the next receipt (paper and cover after the print, the clock). It reads
    // nothing the result needs, so the result is returned first and the 3F is the driver's next operation, queued
    // before anything the caller can ask: while it is on the wire the gateway records the receipt, and whatever the
    // caller asks next (a brief status, the next receipt) waits for it and finds the state it proves.
    if (shift) {
      const shiftNow = shift;
      void this.serial(() => this.proveStateAfterReceipt(shiftNow, fd.fdNumber, known), true).catch(() => undefined);
    }
    return {
      fdNumber: fd.fdNumber,
      fiscalSign: fd.fiscalSign,
      dateTime: fd.dateTime || localDateTime(this.now()),
      shiftNumber: shift?.shiftNumber ?? 0,
      receiptNumber: shift?.receiptNumber ?? 0,
      fnNumber,
      operation: receipt.operation,
      total: receipt.total,
      change: 0,
    };
  }

  /** the 3F after a receipt: the state the next brief status and the next receipt may rely on, when it is plain */
  private async proveStateAfterReceipt(shift: { shiftNumber: number; receiptNumber: number }, lastFd: number, known: DeviceStatus | undefined): Promise<void> {
    const after = await this.bestEffort(() => this.deviceStatus(), undefined);
    if (!after || after.receiptState !== 0 || !after.shiftOpen) return;
    const state = this.shiftState(after, undefined);
    if (state !== 'open') return;
    this.known.set({
      mode: after.mode, submode: after.submode, receiptOpen: false, shift: state, shiftNumber: shift.shiftNumber, receiptNumber: shift.receiptNumber,
      paper: paperState(after, undefined), coverOpen: after.coverOpen,
      fn: { serial: this.deviceInfo?.fnNumber ?? '', phase: known?.fn?.phase ?? 0, lastFd, warnings: known?.fn?.warnings ?? 0 },
    }, true);
  }

  private async doOpenShift(cashier: { name: string; inn?: string } | undefined, signal?: AbortSignal): Promise<ShiftResult> {
    const lastFdBefore = (await this.exec(codec.readRegister(this.access, Reg.LAST_FD), codec.decodeLastFd, { signal, idempotent: true })).fdNumber;
    await this.enterMode(Mode.REGISTRATION, signal);
    await this.cashierTags(cashier);
    try {
      await this.exec(codec.openShift(this.access), codec.expectOk, { uncertain: { lastFdBefore }, signal });
    } catch (err) {
      this.noteExpiry(err);
      throw err;
    }
    const doc = await this.shiftDocument(lastFdBefore, '9A');
    this.expiredSeen = false;
    this.shiftOpened = { number: doc.shiftNumber, at: doc.dateTime };
    return doc;
  }

  private async doCloseShift(cashier: { name: string; inn?: string } | undefined): Promise<ZReportResult> {
    const st = await this.deviceStatus();
    if (st.receiptState !== 0) throw new DriverError(DriverCodes.RECEIPT_OPEN, 'retryable', 'a receipt is open on the device; cancel it first');
    const lastFdBefore = (await this.exec(codec.readRegister(this.access, Reg.LAST_FD), codec.decodeLastFd, { idempotent: true })).fdNumber;
    const shiftBefore = await this.optional(() => this.shiftParams());
    await this.enterMode(Mode.Z);
    await this.cashierTags(cashier);
    await this.exec(codec.simple(this.access, Cmd.Z_REPORT), codec.expectOk, { uncertain: { lastFdBefore } });
    const printed = await this.followReport([MODE_BYTE_Z_PRINTING, MODE_BYTE_Z_FN], this.opts.zWaitMs ?? 180_000);
    const last = await this.exec(codec.readRegister(this.access, Reg.LAST_FD), codec.decodeLastFd, { idempotent: true });
    if (last.fdNumber <= lastFdBefore) {
      if (printed === 'paper_out') throw noPaper();
      throw new UncertainError(`5A: no new fiscal document after the Z report (FN last FD: ${last.fdNumber})`, { command: '5A', lastFdBefore });
    }
    if (printed === 'paper_out') this.log.warn({ fd: last.fdNumber }, 'atol: Z report made, paper ran out while printing');
    await this.bestEffort(() => this.leaveMode(), undefined);
    this.expiredSeen = false;
    this.shiftOpened = undefined;
    const doc = await this.bestEffort(() => this.readDocument(last.fdNumber), undefined);
    const shiftNumber = doc?.shiftNumber ?? shiftBefore?.shiftNumber ?? (await this.deviceStatus()).shiftNumber;
    const z: ZReportResult = { shiftNumber, fdNumber: last.fdNumber, fiscalSign: last.fiscalSign, dateTime: doc?.dateTime || last.dateTime };
    const ex = await this.bestEffort(() => this.exec(codec.fn(this.access, FnSub.EXCHANGE), codec.decodeExchangeStatus, { idempotent: true }), undefined);
    if (ex) z.unsentCount = ex.unsentCount;
    return z;
  }

  private async doXReport(): Promise<void> {
    await this.enterMode(Mode.X);
    await this.exec(codec.xReport(this.access), codec.expectOk);
    const printed = await this.followReport([MODE_BYTE_X_PRINTING], this.opts.printWaitMs ?? 60_000);
    if (printed === 'paper_out') throw noPaper();
    await this.bestEffort(() => this.leaveMode(), undefined);
  }

  private async cash(code: typeof Cmd.CASH_IN | typeof Cmd.CASH_OUT, sum: number): Promise<void> {
    const req = codec.cash(this.access, code, sum);
    const st = await this.deviceStatus();
    if (st.receiptState !== 0) throw new DriverError(DriverCodes.RECEIPT_OPEN, 'retryable', 'a receipt is open on the device; cancel it first');
    if (!st.shiftOpen) await this.doOpenShift(undefined);
    await this.enterMode(Mode.REGISTRATION);
    await this.exec(req, codec.expectOk, { uncertain: { lastFdBefore: undefined } });
    await this.bestEffort(() => this.leaveMode(), undefined);
  }

  /** The FD of a shift document just made (91 34), its shift number (A4 10 / the FN document). */
  private async shiftDocument(lastFdBefore: number, command: string): Promise<ShiftResult> {
    const last = await this.exec(codec.readRegister(this.access, Reg.LAST_FD), codec.decodeLastFd, { idempotent: true });
    if (last.fdNumber <= lastFdBefore) {
      throw new UncertainError(`${command}: no new fiscal document (FN last FD: ${last.fdNumber})`, { command, lastFdBefore });
    }
    const shift = await this.bestEffort(() => this.shiftParams(), undefined);
    const doc = shift ? undefined : await this.bestEffort(() => this.readDocument(last.fdNumber), undefined);
    await this.bestEffort(() => this.leaveMode(), undefined);
    return { shiftNumber: shift?.shiftNumber ?? doc?.shiftNumber ?? 0, fdNumber: last.fdNumber, fiscalSign: last.fiscalSign, dateTime: last.dateTime };
  }

  /** E8 1021/1203 before a shift document; a device that refuses tags there does not stop the document. */
  private async cashierTags(cashier: { name: string; inn?: string } | undefined): Promise<void> {
    for (const t of codec.cashierTags(cashier)) {
      await this.optional(() => this.exec(codec.writeTag(this.access, t.tag, t.data), codec.expectOk));
    }
  }

  /**
   * Polls 45 while the mode byte is one of `printing` (X: 22h; Z: 23h, then 17h the FN part) [A2]. Paper out →
   * 'paper_out'; still printing after `waitMs` → 'still_printing'.
   */
  private async followReport(printing: number[], waitMs: number): Promise<'done' | 'paper_out' | 'still_printing'> {
    const deadline = this.now().getTime() + waitMs;
    for (;;) {
      const p = await this.printerState();
      if (!printing.includes(p.modeByte)) return p.noPaper ? 'paper_out' : 'done';
      if (p.noPaper) return 'paper_out';
      if (this.now().getTime() >= deadline) return 'still_printing';
      await this.sleep();
    }
  }

  private async waitPaper(waitMs: number): Promise<void> {
    const deadline = this.now().getTime() + waitMs;
    for (;;) {
      const st = await this.deviceStatus();
      const p = await this.optional(() => this.printerState());
      if (st.paperPresent && !p?.noPaper) return;
      if (this.now().getTime() >= deadline) throw noPaper();
      await this.sleep();
    }
  }

  private async readLastDocument(): Promise<DocumentRef> {
    const last = await this.exec(codec.readRegister(this.access, Reg.LAST_FD), codec.decodeLastFd, { idempotent: true });
    if (last.fdNumber === 0) return { fdNumber: 0, type: 0, dateTime: '', fiscalSign: 0 };
    const doc = await this.readDocument(last.fdNumber);
    if (doc) return doc;
    throw new DriverError(DriverCodes.BAD_ANSWER, 'retryable', `the FN does not find its last document ${last.fdNumber}`);
  }

  /**
   * A4 40 (the FN's find-document); a device that does not know it: A4 45/46 (the document's TLVs); for the last
   * receipt also 91 33. The FN's "no data" → undefined.
   */
  private async readDocument(fdNumber: number): Promise<DocumentRef | undefined> {
    try {
      return await this.exec(codec.findDocument(this.access, fdNumber), codec.decodeFoundDocument, { idempotent: true });
    } catch (err) {
      if (!(err instanceof DriverError) || err instanceof LinkError) throw err;
      if (err.deviceCode !== undefined && NOT_FOUND_CODES.has(err.deviceCode)) return undefined;
      if (err.deviceCode === undefined || !UNSUPPORTED_CODES.has(err.deviceCode)) throw err;
      this.log.debug({ fd: fdNumber, err: err.message }, 'atol: A4 40 refused; reading the document as TLV');
    }
    const viaTlv = await this.optional(() => this.readDocumentTlv(fdNumber));
    if (viaTlv) return viaTlv;
    const lastReceipt = await this.optional(() => this.exec(codec.readRegister(this.access, Reg.LAST_RECEIPT), codec.decodeLastReceipt, { idempotent: true }));
    if (lastReceipt && lastReceipt.fdNumber === fdNumber) {
      const operation = codec.operationOfType(lastReceipt.type, this.q.correctionTypes);
      const corr = lastReceipt.type >= 7;
      const doc: DocumentRef = { fdNumber, type: corr ? 31 : 3, dateTime: lastReceipt.dateTime, fiscalSign: lastReceipt.fiscalSign, total: lastReceipt.total };
      if (operation !== undefined) doc.operation = operation;
      return doc;
    }
    return undefined;
  }

  private async readDocumentTlv(fdNumber: number): Promise<DocumentRef | undefined> {
    const { type, tlvs } = await this.documentTlvsTyped(fdNumber);
    const doc = codec.documentFromTlv(type, tlvs);
    if (doc.fdNumber === 0) doc.fdNumber = fdNumber;
    return doc;
  }

  private async documentTlvs(fdNumber: number): Promise<Buffer> {
    return (await this.documentTlvsTyped(fdNumber)).tlvs;
  }

  /** A4 45 fd, then A4 46 until `size` bytes are read (≤ 256 pieces) */
  private async documentTlvsTyped(fdNumber: number): Promise<{ type: number; tlvs: Buffer }> {
    const size = await this.exec(codec.documentSize(this.access, fdNumber), codec.decodeDocumentSize, { idempotent: true });
    const parts: Buffer[] = [];
    let got = 0;
    for (let i = 0; got < size.size && i < 256; i++) {
      const piece = await this.exec(codec.fn(this.access, FnSub.DOC_READ), codec.decodeDocumentPiece);
      if (piece.length === 0) break;
      parts.push(piece);
      got += piece.length;
    }
    return { type: size.type, tlvs: Buffer.concat(parts) };
  }

  private readFnNumber(): Promise<string> {
    return this.exec(codec.fn(this.access, FnSub.NUMBER), codec.decodeFnNumber, { idempotent: true });
  }

  private shiftParams(): Promise<codec.ShiftParams> {
    const enc = this.q.shiftParamsEncoding;
    return this.exec(codec.fn(this.access, FnSub.SHIFT), (req, r) => codec.decodeShiftParams(req, r, enc), { idempotent: true });
  }

  private async deviceStatus(signal?: AbortSignal): Promise<codec.AtolStatus> {
    const st = await this.exec(codec.simple(this.access, Cmd.STATUS), codec.decodeStatus, { signal, idempotent: true });
    this.known.clockRead(st.dateTime);
    return st;
  }

  private printerState(): Promise<codec.PrinterState> {
    return this.exec(codec.simple(this.access, Cmd.PRINTER_STATE), codec.decodePrinterState, { idempotent: true });
  }

  /** 48 (leave whatever mode), then 56 mode: skipped when already there. */
  private async enterMode(mode: number, signal?: AbortSignal): Promise<void> {
    const st = await this.deviceStatus(signal);
    if (st.mode === mode) return;
    if (st.mode !== Mode.SELECT) await this.leaveMode(signal);
    try {
      await this.exec(codec.enterMode(this.access, mode, this.modePwd), codec.expectOk, { signal, idempotent: true });
    } catch (err) {
      // some firmware refuse registration mode itself after 24 h (88h)
      this.noteExpiry(err);
      throw err;
    }
  }

  private async leaveMode(signal?: AbortSignal): Promise<void> {
    await this.exec(codec.simple(this.access, Cmd.LEAVE_MODE), codec.expectOk, { signal, idempotent: true });
  }

  private async cancelAfterFailure(cause: unknown): Promise<void> {
    try {
      const st = await this.deviceStatus();
      if (st.receiptState === 0) return;
      await this.exec(codec.simple(this.access, Cmd.CANCEL_RECEIPT), codec.expectOk);
      this.log.warn({ cause: errText(cause) }, 'atol: receipt cancelled after a failure');
    } catch (err) {
      this.log.warn({ cause: errText(cause), err: errText(err) }, 'atol: could not cancel the receipt');
    }
  }

  /** 88h/F0h: the shift is past 24 h; status() reports 'expired' until a Z report. */
  private noteExpiry(err: unknown): void {
    if (err instanceof DriverError && err.deviceCode !== undefined && SHIFT_EXPIRED_CODES.has(err.deviceCode)) this.expiredSeen = true;
  }

  /** 92 refused because a receipt is open: the same RECEIPT_OPEN code as a receipt found open before starting. */
  private receiptOpenError(err: unknown): unknown {
    if (err instanceof DriverError && err.deviceCode !== undefined && RECEIPT_OPEN_CODES.has(err.deviceCode) && err.code !== DriverCodes.RECEIPT_OPEN) {
      return new DriverError(DriverCodes.RECEIPT_OPEN, 'retryable', err.message, { deviceCode: err.deviceCode, command: err.command ?? '92', cause: err });
    }
    return err;
  }

  // ------------------------------------------------------------------------------------------------ plumbing

  /**
   * Runs one command as a task and decodes its answer. With `uncertain`, a command that may have been executed but
   * whose result is lost or unreadable becomes an UncertainError (lastFdBefore attached).
   */
  private async exec<T>(req: Buffer, decode: (req: Buffer, r: TaskResult) => T, opts: ExecOptions = {}): Promise<T> {
    if (opts.signal?.aborted) throw new DriverError(DriverCodes.ABORTED, 'retryable', 'aborted', { command: taskName(req) });
    try {
      const link = await this.ensureLink();
      if (this.linkFresh) {
        // a new port (replugged): start the task buffer clean
        await link.abort(opts.signal);
        this.linkFresh = false;
      }
      const taskOpts = { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.idempotent ? { idempotent: true } : {}), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) };
      return decode(req, await link.task(req, taskOpts));
    } catch (err) {
      throw opts.uncertain ? toUncertain(err, req, opts.uncertain.lastFdBefore) : err;
    }
  }

  private async ensureLink(): Promise<AtolLink> {
    if (this.closed) throw new DriverError(DriverCodes.NOT_OPEN, 'retryable', 'the driver is closed');
    if (this.link && !this.link.gone) return this.link;
    const port = this.link === undefined && this.opts.port ? this.opts.port : await this.newPort();
    this.known.reset(); // maybe another register
    this.link = new AtolLink(port, { logger: this.log, ...this.opts.link, quirks: { ...this.q, ...this.opts.link?.quirks } });
    this.linkFresh = true;
    return this.link;
  }

  private newPort(): Promise<BytePort> {
    return reopenPort(this.opts.openPort);
  }

  /** a read some registers lack (see host-link optionalRead) */
  private optional<T>(fn: () => Promise<T>): Promise<T | undefined> {
    return optionalRead(fn, this.log, 'atol: optional read');
  }

  private bestEffort<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
    return bestEffort(fn, fallback, this.log, 'atol: read after a fiscal document');
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.opts.pollIntervalMs ?? 300));
  }
}

function paperState(st: codec.AtolStatus, p: codec.PrinterState | undefined): PaperState {
  return !st.paperPresent || p?.noPaper ? 'out' : 'ok';
}

/** A closing command that may have run: a link failure after possible delivery, or an unreadable success answer. */
function toUncertain(err: unknown, req: Buffer, lastFdBefore: number | undefined): unknown {
  const maybeRan = (err instanceof LinkError && err.possiblyDelivered) || (err instanceof DriverError && err.code === DriverCodes.BAD_ANSWER);
  if (!maybeRan) return err;
  const fd = lastFdBefore === undefined ? '' : ` (FN last FD before: ${lastFdBefore})`;
  return new UncertainError(`${taskName(req)} may have been executed: ${errText(err)}${fd}`, { command: taskName(req), cause: err, lastFdBefore });
}

/** Table 13 field 3 ("tax tag"): a 1199 value 1…12, as BCD or binary. */
function tagValue(v: Buffer): number | undefined {
  if (v.length === 0) return undefined;
  const b = v[v.length - 1]!;
  const asBcd = codec.fromBcd(Buffer.from([b]));
  if (asBcd !== undefined && asBcd >= 1 && asBcd <= 12) return asBcd;
  return b >= 1 && b <= 12 ? b : undefined;
}

/** tag 1062 bits → tax systems (bit0 osn, bit1 usn_income, bit2 usn_income_outcome, bit3 envd, bit4 esn, bit5 patent) */
function taxSystemsOf(bits: number): TaxSystem[] {
  const all: TaxSystem[] = ['osn', 'usn_income', 'usn_income_outcome', 'envd', 'esn', 'patent'];
  return all.filter((_, i) => (bits & (1 << i)) !== 0);
}

function noPaper(): DriverError {
  return new DriverError(DriverCodes.NO_PAPER, 'operator', 'no receipt paper; load paper');
}

function badDocument(why: string): DriverError {
  return new DriverError(DriverCodes.BAD_DOCUMENT, 'rejected', why);
}

function msOf(dt: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(dt);
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
}

function localDateTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

