/**
 * FiscalDriver for Shtrih-M protocol registers (FN era, FFD 1.05/1.2 "V2" commands). Built from injected parts:
 * a byte port (or a factory), passwords, link timeouts, a logger and a clock. One operation at a time.
 */
import {
  DriverError, type DeviceInfo, type DeviceStatus, type DocumentRef, type FiscalDriver, type FiscalItem, type FiscalReceipt, type FiscalizeOptions,
  type FiscalResult, type FnDocumentCopy, type FnState, type OpName, type PaperState, type Payments, type RegistrationData,
  type ShiftFigures, type ShiftResult, type ShiftState, type VatType, type ZReportResult,
} from '../types.ts';
import type { BytePort } from '../transport.ts';
import { bestEffort, errText, KnownState, optionalRead, reopenPort } from '../host-link.ts';
import * as codec from './codec.ts';
import { Cmd } from './codec.ts';
import { DriverCodes, UncertainError } from './errors.ts';
import * as figures from './figures.ts';
import * as fndoc from './fndoc.ts';
import { commandCode, commandName } from './frame.ts';
import { LinkError, Mutex, ShtrihLink, silentLogger, type LinkOptions, type Logger } from './protocol.ts';

export interface ShtrihDriverOptions {
  /** an open port; or give `openPort` */
  port?: BytePort;
  /** opens a new port; called by open() and again after the port is gone (cable pulled and back) */
  openPort?: () => Promise<BytePort>;
  /** 4-byte passwords: `operator` for classic commands, `sysadmin` for FN (FFxx) commands; both default 30 */
  passwords?: { operator?: number; sysadmin?: number };
  /** link timeouts and retry limits (answer timeouts per command code included) */
  link?: LinkOptions;
  /** 10h polling interval while the device prints; default 300 ms */
  pollIntervalMs?: number;
  /** how long to wait for printing to finish after a document; default 30 s */
  printWaitMs?: number;
  /** how long continuePrint() waits for paper to be loaded; default 120 s */
  continueWaitMs?: number;
  /** how many times a command refused with 50h "printing previous command" is sent again; default 20 */
  busyRetries?: number;
  /** FF46 department byte; default 1 */
  department?: number;
  /** overrides of the FF46 tax byte (e.g. codec.VAT_CODES_NANO for Shtrih Nano) */
  vatCodes?: Partial<Record<VatType, number>>;
  /** read "paper out" also from the receipt-roll flag (10h flags bit1) and not only from the submode; default true */
  paperFromFlags?: boolean;
  /**
   * payment types (2–13) whose registers make up the electronic sums of shiftFigures(); default [2, 3, 4] (the
   * gateway pays electronic with type 2, the keyboard offers types 2–4). Add 5–13 when other software uses them.
   */
  electronicPaymentTypes?: number[];
  /** how many FN documents closeShift()/openShift() step back from the last one to find their own; default 5 */
  documentLookBack?: number;
  logger?: Logger;
  /** clock; default () => new Date() */
  now?: () => Date;
  /**
   * How long the register's clock is extrapolated from its last reading (host monotonic clock) before a brief status
   * reads the wire again; 0: every status reads the wire. Default 10 s. See KnownState (drivers/host-link.ts).
   */
  stateTtlMs?: number;
}

/** How a failed command counts: `uncertain` when it may have been executed and only the FN can tell. */
interface ExecOptions {
  uncertain?: { lastFdBefore: number | undefined };
  signal?: AbortSignal;
  /** SendOptions.ready of the first attempt */
  ready?: Promise<boolean>;
}

const FLAG_RECEIPT_ROLL = 1 << 1;
const FLAG_COVER_OPEN = 1 << 10;
const MODE_SHIFT_OPEN = 2;
const MODE_SHIFT_EXPIRED = 3;
const MODE_SHIFT_CLOSED = 4;
const MODE_DOCUMENT_OPEN = 8;
const SUBMODE_IDLE = 0;
const SUBMODE_WAIT_CONTINUE = 3;
const DEVICE_BUSY_PRINTING = 0x50;
const DEVICE_RECEIPT_CLOSED = 0x55;
const NO_DATA_CODES = new Set([0x08, 0x34]);

type PrintOutcome = 'done' | 'paper_out' | 'still_printing';

export class ShtrihDriver implements FiscalDriver {
  private link: ShtrihLink | undefined;
  private deviceInfo: DeviceInfo | undefined;
  private closed = false;
  private readonly mutex = new Mutex();
  private readonly log: Logger;
  private readonly opPwd: number;
  private readonly sysPwd: number;
  private readonly vatCodes: Record<VatType, number>;
  private readonly now: () => Date;
  /** what the last exchanges prove (a brief status without an exchange, a receipt without its status reads) */
  private readonly known: KnownState;
  /** the last 10h answer */
  private lastShort: codec.ShortStatus | undefined;
  /**
   * A receipt closed and its print was not followed (no 10h after FF45): the next receipt's first command tells how
   * it went (refused while printing or without paper), and so does any 10h read, which clears this.
   */
  private printPending = false;

  constructor(private readonly opts: ShtrihDriverOptions) {
    if (!opts.port && !opts.openPort) throw new TypeError('ShtrihDriver needs a port or an openPort factory');
    this.log = opts.logger ?? silentLogger;
    this.opPwd = opts.passwords?.operator ?? 30;
    this.sysPwd = opts.passwords?.sysadmin ?? 30;
    this.vatCodes = { ...codec.VAT_CODES, ...opts.vatCodes };
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
      const st = await this.shortStatus();
      if (st.mode !== MODE_DOCUMENT_OPEN) return false;
      await this.simple(Cmd.CANCEL_RECEIPT, this.opPwd);
      return true;
    });
  }

  lastDocument(): Promise<DocumentRef> {
    return this.serial(() => this.readLastDocument());
  }

  findDocument(fdNumber: number): Promise<DocumentRef | undefined> {
    return this.serial(() => this.readDocument(fdNumber));
  }

  openShift(cashier?: { name: string; inn?: string }): Promise<ShiftResult> {
    return this.serial(() => this.shiftDocument(Cmd.OPEN_SHIFT, cashier));
  }

  closeShift(cashier?: { name: string; inn?: string }): Promise<ZReportResult> {
    return this.serial(async () => {
      const z: ZReportResult = await this.shiftDocument(Cmd.Z_REPORT, cashier);
      const ofd = await this.bestEffort(() => this.exec(codec.passwordOnly(Cmd.FN_OFD_STATUS, this.sysPwd), codec.decodeOfdStatus), undefined);
      if (ofd) z.unsentCount = ofd.queueCount;
      return z;
    });
  }

  /** FF09 (either FFD layout), else table 18 row 1 (INN, РНМ); undefined when the firmware gives neither. */
  registration(): Promise<RegistrationData | undefined> {
    return this.serial(async () => {
      const reg = await this.readRegistration();
      if (this.deviceInfo) this.applyRegistration(this.deviceInfo, reg);
      return reg;
    });
  }

  /** The open shift's counters from the cash (1Ah) and operating (1Bh) registers, cumulative totals from FE F4. */
  shiftFigures(): Promise<ShiftFigures> {
    return this.serial(() => this.readShiftFigures());
  }

  /** FF3A + FF3B…: the document's TLVs from the FN; undefined when the FN has no such document. */
  documentCopy(fdNumber: number): Promise<FnDocumentCopy | undefined> {
    return this.serial(() => this.readDocumentCopy(fdNumber));
  }

  /** 17h "print string" on the receipt tape (flags bit1), one line at a time, then the print settled */
  printText(lines: string[]): Promise<void> {
    return this.serial(async () => {
      for (const line of lines) await this.exec(codec.printStringRequest(this.opPwd, line), (a) => codec.decodeEmpty(Cmd.PRINT_STRING, a));
      await this.settlePrint(true);
    });
  }

  xReport(): Promise<void> {
    return this.serial(async () => {
      await this.simple(Cmd.X_REPORT, this.opPwd);
      await this.settlePrint(true);
    });
  }

  cashIn(sum: number): Promise<void> {
    return this.serial(() => this.cash(Cmd.CASH_IN, sum));
  }

  cashOut(sum: number): Promise<void> {
    return this.serial(() => this.cash(Cmd.CASH_OUT, sum));
  }

  continuePrint(): Promise<void> {
    return this.serial(() => this.doContinuePrint());
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

  private async identify(signal?: AbortSignal): Promise<DeviceInfo> {
    this.closed = false;
    const type = await this.exec(codec.deviceTypeRequest(), codec.decodeDeviceType, { signal });
    const st = await this.exec(codec.passwordOnly(Cmd.STATUS, this.opPwd), codec.decodeFullStatus, { signal });
    const fnNumber = await this.exec(codec.passwordOnly(Cmd.FN_NUMBER, this.sysPwd), codec.decodeFnNumber, { signal });
    this.known.clockRead(st.dateTime);
    this.deviceInfo = {
      protocol: 'shtrih',
      model: type.name,
      modelCode: type.model,
      serial: String(st.serial),
      inn: st.inn,
      fnNumber,
      firmware: `${st.firmwareVersion} build ${st.firmwareBuild} (${st.firmwareDate})`,
    };
    this.applyRegistration(this.deviceInfo, await this.readRegistration(signal));
    this.log.debug({ info: this.deviceInfo, mode: st.mode, submode: st.submode }, 'shtrih: device identified');
    return this.deviceInfo;
  }

  /**
   * FF09, then table 18 via 1Fh when FF09 is refused. Device refusals and unreadable answers → the next source /
   * undefined (never an exception that breaks open()); a link failure still throws.
   */
  private async readRegistration(signal?: AbortSignal): Promise<RegistrationData | undefined> {
    const fromFn = await this.optional(() => this.exec(codec.passwordOnly(Cmd.FN_REGISTRATION, this.sysPwd), figures.decodeRegistration, { signal }));
    if (fromFn) return fromFn;
    const field = (f: number): Promise<string | undefined> =>
      this.optional(async () => figures.tableText(await this.exec(figures.readTableRequest(this.sysPwd, figures.FN_TABLE.table, figures.FN_TABLE.row, f), figures.decodeTableValue, { signal })));
    const inn = await field(figures.FN_TABLE.inn);
    const rn = await field(figures.FN_TABLE.registrationNumber);
    if (!inn && !rn) {
      this.log.warn({}, 'shtrih: the register gives no registration data (FF09 and table 18 refused)');
      return undefined;
    }
    return figures.registrationFromTable(inn ?? '', rn ?? '');
  }

  private applyRegistration(info: DeviceInfo, reg: RegistrationData | undefined): void {
    if (!reg) return;
    info.registration = reg;
    if (reg.inn) info.inn = reg.inn;
    if (reg.registrationNumber) info.registrationNumber = reg.registrationNumber;
    if (reg.taxSystems.length > 0) info.taxSystems = reg.taxSystems;
  }

  private async readShiftFigures(): Promise<ShiftFigures> {
    const missing = new Set<string>();
    const read = async <T>(name: string, req: Buffer, decode: (a: Buffer) => T): Promise<T | undefined> => {
      const v = await this.optional(() => this.exec(req, decode));
      if (v === undefined) missing.add(name);
      return v;
    };
    const cashReg = (name: string, n: number) => read(name, figures.cashRegisterRequest(this.opPwd, n), figures.decodeCashRegister);
    const opReg = (name: string, n: number) => read(name, figures.operationRegisterRequest(this.opPwd, n), figures.decodeOperationRegister);
    const zero = (): Record<OpName, number> => ({ sell: 0, sell_refund: 0, buy: 0, buy_refund: 0 });
    const empty = (): Payments => ({ cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 });
    const counts = zero();
    const sums: Record<OpName, Payments> = { sell: empty(), sell_refund: empty(), buy: empty(), buy_refund: empty() };
    const electronic = (this.opts.electronicPaymentTypes ?? [2, 3, 4]).filter((t) => t >= 2 && t <= 13);
    const types = [1, ...new Set(electronic), 14, 15, 16];
    for (const [i, op] of figures.REGISTER_OP_ORDER.entries()) {
      counts[op] = (await opReg(`counts.${op}`, figures.REGISTERS.receiptCountBase + i)) ?? 0;
      for (const type of types) {
        const kind = figures.paymentKind(type);
        sums[op][kind] += (await cashReg(`sums.${op}.${kind}`, figures.paymentRegister(type, op))) ?? 0;
      }
    }
    const out: ShiftFigures = {
      counts,
      // operating registers 144–147 count receipts only; corrections are 202/203 (per pair of operations)
      countsExcludeCorrections: true,
      sums,
      cashIn: (await cashReg('cashIn', figures.REGISTERS.cashIn)) ?? 0,
      cashOut: (await cashReg('cashOut', figures.REGISTERS.cashOut)) ?? 0,
      missing: [],
    };
    const drawer = await cashReg('cashInDrawer', figures.REGISTERS.cashInDrawer);
    if (drawer !== undefined) out.cashInDrawer = drawer;
    const inCount = await opReg('cashInCount', figures.REGISTERS.cashInCount);
    if (inCount !== undefined) out.cashInCount = inCount;
    const outCount = await opReg('cashOutCount', figures.REGISTERS.cashOutCount);
    if (outCount !== undefined) out.cashOutCount = outCount;
    let corrections: number | undefined = 0;
    for (const n of figures.REGISTERS.corrections) {
      const v = await opReg('corrections', n);
      corrections = v === undefined || corrections === undefined ? undefined : corrections + v;
    }
    if (corrections !== undefined) out.corrections = corrections;
    const cumulative = await this.optional(() => this.exec(figures.cumulativeRequest(0), figures.decodeCumulative));
    const ops = figures.CUMULATIVE_OP_ORDER;
    if (cumulative && ops.every((op) => cumulative[op] !== undefined)) out.cumulative = cumulative as Record<OpName, number>;
    else for (const op of ops) if (cumulative?.[op] === undefined) missing.add(`cumulative.${op}`);
    const shift = await this.optional(() => this.exec(codec.passwordOnly(Cmd.FN_SHIFT_PARAMS, this.sysPwd), codec.decodeShiftParams));
    if (shift) out.shiftNumber = shift.shiftNumber;
    out.missing = [...missing];
    return out;
  }

  /** FF3A, then FF3B until the announced length is read (or the FN says 08h "no more data", or sends nothing). */
  private async readDocumentCopy(fdNumber: number): Promise<FnDocumentCopy | undefined> {
    let head: { type: number; length: number };
    try {
      head = await this.exec(fndoc.requestDocumentRequest(this.sysPwd, fdNumber), fndoc.decodeDocumentHeader);
    } catch (err) {
      if (err instanceof DriverError && err.deviceCode !== undefined && NO_DATA_CODES.has(err.deviceCode)) return undefined;
      throw err;
    }
    const blocks: Buffer[] = [];
    let got = 0;
    // a block carries at least one byte; the bound only stops a firmware that keeps answering empty-handed
    for (let n = 0; got < head.length && n <= head.length; n++) {
      let block: Buffer;
      try {
        block = await this.exec(fndoc.readDocumentBlockRequest(this.sysPwd), fndoc.decodeDocumentBlock);
      } catch (err) {
        if (err instanceof DriverError && err.deviceCode === 0x08) break;
        throw err;
      }
      if (block.length === 0) break;
      blocks.push(block);
      got += block.length;
    }
    if (got < head.length) {
      throw new DriverError(DriverCodes.BAD_ANSWER, 'retryable', `FF3B: document ${fdNumber} ended after ${got} of ${head.length} bytes`, { command: 'FF3B' });
    }
    return fndoc.decodeFnDocument(fdNumber, head.type, Buffer.concat(blocks).subarray(0, head.length));
  }

  private async readStatus(brief = false): Promise<DeviceStatus> {
    const st = await this.shortStatus();
    const shift = await this.optional(() => this.exec(codec.passwordOnly(Cmd.FN_SHIFT_PARAMS, this.sysPwd), codec.decodeShiftParams));
    const fn = await this.optional(() => this.fnState(brief));
    const out: DeviceStatus = {
      mode: st.mode,
      submode: st.submode,
      receiptOpen: st.mode === MODE_DOCUMENT_OPEN,
      shift: shiftState(st.mode, shift?.open ?? fn?.shiftOpen),
      paper: this.paperState(st),
      coverOpen: (st.flags & FLAG_COVER_OPEN) !== 0,
    };
    if (shift) {
      out.shiftNumber = shift.shiftNumber;
      out.receiptNumber = shift.receiptNumber;
    }
    if (fn) out.fn = fn.state;
    // the register's clock (11h): the shift policy and the clock guard judge by it, never by the host's
    const full = await this.optional(() => this.exec(codec.passwordOnly(Cmd.STATUS, this.opPwd), codec.decodeFullStatus));
    if (full) out.dateTime = full.dateTime;
    this.known.clockRead(full?.dateTime);
    return out;
  }

  private async fnState(brief = false): Promise<{ state: FnState; shiftOpen: boolean }> {
    const s = await this.fnStatus();
    const state: FnState = { serial: s.serial, phase: s.phase, lastFd: s.lastFd, warnings: s.warnings };
    if (brief) return { state, shiftOpen: s.shiftOpen };
    const expiry = await this.optional(() => this.exec(codec.passwordOnly(Cmd.FN_EXPIRY, this.sysPwd), codec.decodeFnExpiry));
    if (expiry) state.expiry = expiry;
    const ofd = await this.optional(() => this.exec(codec.passwordOnly(Cmd.FN_OFD_STATUS, this.sysPwd), codec.decodeOfdStatus));
    if (ofd) {
      state.unsentCount = ofd.queueCount;
      if (ofd.firstDateTime) state.unsentSince = ofd.firstDateTime;
    }
    return { state, shiftOpen: s.shiftOpen };
  }

  private paperState(st: codec.ShortStatus): PaperState {
    if (st.submode === SUBMODE_WAIT_CONTINUE) return 'waiting_continue';
    if (st.submode === 1 || st.submode === 2) return 'out';
    if ((this.opts.paperFromFlags ?? true) && (st.flags & FLAG_RECEIPT_ROLL) === 0) return 'out';
    return 'ok';
  }

  private async doFiscalize(receipt: FiscalReceipt, signal?: AbortSignal, bound?: Promise<boolean>): Promise<FiscalResult> {
    const plan = this.receiptPlan(receipt); // encoded up front: a bad document fails before anything is sent
    // the state the last exchanges prove (the status just read, or the receipt before): no 10h/FF01 of our own
    const known = this.known.take();
    const ready = known !== undefined && known.mode === MODE_SHIFT_OPEN && known.submode === SUBMODE_IDLE && !known.receiptOpen && known.shift === 'open' && known.fn !== undefined;
    let fn: FnState;
    if (ready) fn = known.fn!;
    else {
      await this.prepareForReceipt(signal);
      const s = await this.fnStatus(signal);
      fn = { serial: s.serial, phase: s.phase, lastFd: s.lastFd, warnings: s.warnings };
    }
    const lastFdBefore = fn.lastFd;
    const printPending = ready && this.printPending;
    let opened = false;
    try {
      // the first command opens the receipt: its frame waits for the job's binding, its ENQ does not
      for (const [i, req] of plan.body.entries()) {
        const send = (): Promise<void> => this.exec(req, (a) => codec.decodeEmpty(commandCode(req), a), { signal, ...(i === 0 && bound ? { ready: bound } : {}) });
        if (i === 0 && printPending) await this.afterUnfollowedPrint(send, signal);
        else await send();
        opened = true;
      }
    } catch (err) {
      // a first command the device cannot have taken opened nothing: nothing to cancel
      if (opened || !(err instanceof LinkError && err.delivery === 'not_sent')) await this.cancelAfterFailure(err);
      throw err;
    }
    const closed = await this.closeReceipt(plan.close, lastFdBefore);
    return this.fiscalResult(receipt, closed, fn, ready ? known : undefined);
  }

  /** Every request of the receipt, in order: correction tags, items (+ item tags), receipt tags; then FF45. */
  private receiptPlan(r: FiscalReceipt): { body: Buffer[]; close: Buffer } {
    const tlvReqs = (code: typeof Cmd.FN_WRITE_TLV | typeof Cmd.FN_WRITE_ITEM_TLV, tlvs: Buffer[]): Buffer[] =>
      codec.tlvBlocks(tlvs).map((block) => codec.tlvRequest(code, this.sysPwd, block));
    const body: Buffer[] = [];
    if (r.correction) body.push(...tlvReqs(Cmd.FN_WRITE_TLV, codec.correctionTlvs(r.correction)));
    for (const item of r.items) {
      body.push(codec.operationRequest(this.sysPwd, this.operation(r, item)));
      body.push(...tlvReqs(Cmd.FN_WRITE_ITEM_TLV, codec.itemTlvs(item)));
    }
    body.push(...tlvReqs(Cmd.FN_WRITE_TLV, codec.receiptTlvs(r)));
    const close = codec.closeReceiptRequest(this.sysPwd, { payments: r.payments, taxSystem: r.taxSystem });
    return { body, close };
  }

  private operation(r: FiscalReceipt, item: FiscalItem): codec.OperationV2 {
    const taxCode = this.vatCodes[item.vat];
    if (taxCode === undefined) {
      throw new DriverError(DriverCodes.BAD_DOCUMENT, 'rejected', `VAT type ${String(item.vat)} has no Shtrih tax code`);
    }
    const op: codec.OperationV2 = {
      operation: r.operation,
      quantity: item.quantity,
      price: item.price,
      sum: item.sum,
      taxCode,
      department: this.opts.department ?? 1,
      paymentMethod: item.paymentMethod,
      paymentObject: item.paymentObject,
      name: item.name,
    };
    if (item.vatSum !== undefined) op.taxSum = item.vatSum;
    return op;
  }

  /** Mode checks before a receipt: an open receipt or an expired shift is the caller's to handle; a closed shift is opened. */
  private async prepareForReceipt(signal?: AbortSignal): Promise<void> {
    let st = await this.shortStatus(signal);
    if (st.submode !== SUBMODE_IDLE) {
      await this.settlePrint(false);
      st = await this.shortStatus(signal);
    }
    if (st.mode === MODE_DOCUMENT_OPEN) {
      throw new DriverError(DriverCodes.RECEIPT_OPEN, 'retryable', 'a receipt is open on the device; cancel it first');
    }
    if (st.mode === MODE_SHIFT_EXPIRED) {
      throw new DriverError(DriverCodes.SHIFT_EXPIRED, 'retryable', 'the shift is open for more than 24 h; close it (Z report) first');
    }
    if (st.mode === MODE_SHIFT_CLOSED) {
      await this.simple(Cmd.OPEN_SHIFT, this.opPwd, { signal });
      await this.settlePrint(false);
      return;
    }
    if (st.mode !== MODE_SHIFT_OPEN) {
      throw new DriverError(DriverCodes.UNEXPECTED_MODE, 'operator', `the device is in mode ${st.mode}, submode ${st.submode}`);
    }
  }

  /** FF45. Refused or certainly not sent → cancel the receipt, throw the error; possibly executed → UncertainError. */
  private async closeReceipt(req: Buffer, lastFdBefore: number): Promise<codec.CloseResult> {
    try {
      return await this.exec(req, codec.decodeCloseReceipt, { uncertain: { lastFdBefore } });
    } catch (err) {
      if (!(err instanceof UncertainError)) await this.cancelAfterFailure(err);
      throw err;
    }
  }

  private async cancelAfterFailure(cause: unknown): Promise<void> {
    try {
      await this.simple(Cmd.CANCEL_RECEIPT, this.opPwd);
      this.log.warn({ cause: errText(cause) }, 'shtrih: receipt cancelled after a failure');
    } catch (err) {
      if (err instanceof DriverError && err.deviceCode === DEVICE_RECEIPT_CLOSED) return;
      this.log.warn({ cause: errText(cause), err: errText(err) }, 'shtrih: could not cancel the receipt');
    }
  }

  /**
   * After FF45 the receipt is fiscalized: everything here is best effort and never throws. FN reads come first
   * (a 50h "printing" answer is waited out), then the print is followed to its end.
   */
  private async fiscalResult(receipt: FiscalReceipt, closed: codec.CloseResult, fnBefore: FnState, known: DeviceStatus | undefined): Promise<FiscalResult> {
    // the shift's and the receipt's numbers: the proven ones before it, when the FN made exactly this one document
    const proven = known?.shiftNumber !== undefined && known.receiptNumber !== undefined && !receipt.correction && closed.fdNumber === fnBefore.lastFd + 1
      ? { shiftNumber: known.shiftNumber, receiptNumber: known.receiptNumber + 1 }
      : undefined;
    const shift = proven ?? await this.bestEffort(
      () => this.exec(codec.passwordOnly(Cmd.FN_SHIFT_PARAMS, this.sysPwd), codec.decodeShiftParams),
      undefined,
    );
    const dateTime = closed.dateTime ?? (await this.bestEffort(async () => (await this.readDocument(closed.fdNumber))?.dateTime, undefined));
    const fnNumber = this.deviceInfo?.fnNumber ?? (await this.bestEffort(() => this.readFnNumber(), ''));
    // The print is not followed here (a 10h exchange per receipt, issue 17 item 3): the result is the FN's, and the
    // next receipt's first command finds out how the paper went (afterUnfollowedPrint). The state before the receipt
    // (proven, or read by prepareForReceipt) is the state after it: the shift open, no receipt open.
    const base = known ?? this.lastShortState();
    if (base && base.mode === MODE_SHIFT_OPEN && base.submode === SUBMODE_IDLE && shift && 'shiftNumber' in shift) {
      // what this receipt's exchanges prove: the next brief status and the next receipt need no reads of their own
      this.known.set({
        mode: base.mode, submode: base.submode, receiptOpen: false, shift: 'open', shiftNumber: shift.shiftNumber, receiptNumber: shift.receiptNumber,
        paper: base.paper, coverOpen: base.coverOpen, fn: { ...fnBefore, lastFd: closed.fdNumber },
      }, true);
      this.printPending = true;
    } else {
      const outcome = await this.bestEffort(() => this.settlePrint(true), 'still_printing' as PrintOutcome);
      if (outcome === 'paper_out') this.log.warn({ fd: closed.fdNumber }, 'shtrih: receipt fiscalized, paper ran out while printing');
    }
    return {
      fdNumber: closed.fdNumber,
      fiscalSign: closed.fiscalSign,
      dateTime: dateTime ?? codec.localDateTime(this.now()),
      shiftNumber: shift?.shiftNumber ?? 0,
      receiptNumber: shift?.receiptNumber ?? 0,
      fnNumber,
      operation: receipt.operation,
      total: receipt.total,
      change: closed.change,
    };
  }

  /** E0h (open shift) or 41h (Z report), then the FN's document for it. */
  private async shiftDocument(code: typeof Cmd.OPEN_SHIFT | typeof Cmd.Z_REPORT, cashier?: { name: string; inn?: string }): Promise<ShiftResult> {
    if (cashier?.name) this.log.debug({ cashier: cashier.name }, 'shtrih: E0h/41h take the cashier from the device tables');
    const lastFdBefore = (await this.fnStatus()).lastFd;
    await this.simple(code, this.opPwd, { uncertain: { lastFdBefore } });
    await this.bestEffort(() => this.settlePrint(true), 'still_printing' as PrintOutcome);
    const doc = await this.findOwnDocument(code === Cmd.Z_REPORT ? 5 : 2, lastFdBefore);
    const shiftNumber = doc.shiftNumber ?? (await this.exec(codec.passwordOnly(Cmd.FN_SHIFT_PARAMS, this.sysPwd), codec.decodeShiftParams)).shiftNumber;
    return { shiftNumber, fdNumber: doc.fdNumber, fiscalSign: doc.fiscalSign, dateTime: doc.dateTime };
  }

  private async cash(code: typeof Cmd.CASH_IN | typeof Cmd.CASH_OUT, sum: number): Promise<void> {
    const req = codec.cashRequest(code, this.opPwd, sum);
    await this.exec(req, (a) => codec.decodeCash(code, a), { uncertain: { lastFdBefore: undefined } });
    await this.settlePrint(true);
  }

  private async doContinuePrint(): Promise<void> {
    const deadline = this.now().getTime() + (this.opts.continueWaitMs ?? 120_000);
    for (;;) {
      const st = await this.shortStatus();
      if (st.submode === SUBMODE_IDLE) return;
      if (st.submode === SUBMODE_WAIT_CONTINUE) {
        await this.simple(Cmd.CONTINUE_PRINT, this.opPwd);
        await this.settlePrint(false);
        return;
      }
      if (this.now().getTime() >= deadline) {
        if (st.submode === 1 || st.submode === 2) throw noPaper(st.submode);
        return; // still printing: nothing to continue
      }
      await this.sleep();
    }
  }

  /**
   * Polls 10h until the print ends: submode 3 → B0h (paper is back); submode 1/2 → paper out: 'paper_out' when
   * `tolerateOut`, else NO_PAPER; still printing after printWaitMs → 'still_printing'.
   */
  private async settlePrint(tolerateOut: boolean): Promise<PrintOutcome> {
    const deadline = this.now().getTime() + (this.opts.printWaitMs ?? 30_000);
    for (;;) {
      const st = await this.shortStatus();
      if (st.submode === SUBMODE_IDLE) return 'done';
      if (st.submode === SUBMODE_WAIT_CONTINUE) await this.simple(Cmd.CONTINUE_PRINT, this.opPwd);
      else if (st.submode === 1 || st.submode === 2) {
        if (tolerateOut) return 'paper_out';
        throw noPaper(st.submode);
      }
      if (this.now().getTime() >= deadline) return 'still_printing';
      await this.sleep();
    }
  }

  /**
   * The FN document a shift command made: FF01's last FD, then FF0A on it and back (at most documentLookBack, never
   * to lastFdBefore or below) to the last one of `type` (2 shift open, 5 shift close). None of that type → the last
   * document, as before.
   */
  private async findOwnDocument(type: number, lastFdBefore: number): Promise<DocumentRef> {
    const last = await this.readLastDocument();
    const lookBack = this.opts.documentLookBack ?? 5;
    for (let fd = last.fdNumber, n = 0; fd > lastFdBefore && n < lookBack; fd--, n++) {
      const doc = fd === last.fdNumber ? last : await this.readDocument(fd);
      if (doc?.type === type) return doc;
    }
    this.log.warn({ type, lastFd: last.fdNumber, lastFdBefore }, 'shtrih: no FN document of the shift command\'s type after it; taking the last one');
    return last;
  }

  private async readLastDocument(): Promise<DocumentRef> {
    const lastFd = (await this.fnStatus()).lastFd;
    if (lastFd === 0) return { fdNumber: 0, type: 0, dateTime: '', fiscalSign: 0 };
    const doc = await this.readDocument(lastFd);
    if (!doc) throw new DriverError(DriverCodes.BAD_ANSWER, 'retryable', `FF0A: the FN does not find its last document ${lastFd}`);
    return doc;
  }

  /** FF0A; the FN's "no data" → undefined. */
  private async readDocument(fdNumber: number): Promise<DocumentRef | undefined> {
    try {
      const { ofdTicket: _t, ...doc } = await this.exec(codec.findDocumentRequest(this.sysPwd, fdNumber), codec.decodeDocument);
      return doc;
    } catch (err) {
      if (err instanceof DriverError && err.deviceCode !== undefined && NO_DATA_CODES.has(err.deviceCode)) return undefined;
      throw err;
    }
  }

  private async readFnNumber(): Promise<string> {
    return this.exec(codec.passwordOnly(Cmd.FN_NUMBER, this.sysPwd), codec.decodeFnNumber);
  }

  private fnStatus(signal?: AbortSignal): Promise<codec.FnStatus> {
    return this.exec(codec.passwordOnly(Cmd.FN_STATUS, this.sysPwd), codec.decodeFnStatus, { signal });
  }

  private async shortStatus(signal?: AbortSignal): Promise<codec.ShortStatus> {
    const st = await this.exec(codec.passwordOnly(Cmd.SHORT_STATUS, this.opPwd), codec.decodeShortStatus, { signal });
    this.lastShort = st;
    this.printPending = false;
    return st;
  }

  /** the last 10h answer as the fields a receipt's known state takes from it */
  private lastShortState(): Pick<DeviceStatus, 'mode' | 'submode' | 'paper' | 'coverOpen'> | undefined {
    const st = this.lastShort;
    return st && { mode: st.mode, submode: st.submode, paper: this.paperState(st), coverOpen: (st.flags & FLAG_COVER_OPEN) !== 0 };
  }

  /**
   * The first command of a receipt after a print that was not followed. Refused (an error answer: not executed) while
   * the register is not idle — still printing, out of paper, waiting for "continue" — the print is followed now as it
   * used to be after FF45 (paper out throws, "continue" is sent, printing is waited out) and the command is sent once
   * more. Refused with the register idle, the refusal is the command's own.
   */
  private async afterUnfollowedPrint(send: () => Promise<void>, signal?: AbortSignal): Promise<void> {
    try {
      await send();
      return;
    } catch (err) {
      if (!(err instanceof DriverError) || err.deviceCode === undefined) throw err;
      const st = await this.shortStatus(signal);
      if (st.submode === SUBMODE_IDLE) throw err;
      this.log.warn({ submode: st.submode, refused: errText(err) }, 'shtrih: the last receipt is fiscalized; its print is not finished');
    }
    await this.settlePrint(false);
    await send();
  }

  /** A password-only command whose answer carries nothing we use. */
  private async simple(code: number, pwd: number, opts: ExecOptions = {}): Promise<void> {
    await this.exec(codec.passwordOnly(code, pwd), (a) => codec.decodeEmpty(code, a), opts);
  }

  // ------------------------------------------------------------------------------------------------ plumbing

  /**
   * Sends one request and decodes its answer. 50h "printing previous command" answers are waited out and the
   * command sent again (an error answer means it was not executed). With `uncertain`, a command that may have been
   * executed but whose answer is lost or unreadable becomes an UncertainError.
   */
  private async exec<T>(req: Buffer, decode: (answer: Buffer) => T, opts: ExecOptions = {}): Promise<T> {
    for (let busy = 0; ; busy++) {
      if (opts.signal?.aborted) throw new DriverError(DriverCodes.ABORTED, 'retryable', 'aborted', { command: cmdName(req) });
      try {
        const link = await this.ensureLink();
        const ready = busy === 0 ? opts.ready : undefined;
        return decode(await link.send(req, { ...(opts.signal ? { signal: opts.signal } : {}), ...(ready ? { ready } : {}) }));
      } catch (err) {
        if (isBusy(err) && busy < (this.opts.busyRetries ?? 20)) {
          await this.sleep();
          continue;
        }
        throw opts.uncertain ? toUncertain(err, req, opts.uncertain.lastFdBefore) : err;
      }
    }
  }

  private async ensureLink(): Promise<ShtrihLink> {
    if (this.closed) throw new DriverError(DriverCodes.NOT_OPEN, 'retryable', 'the driver is closed');
    if (this.link && !this.link.gone) return this.link;
    const port = this.link === undefined && this.opts.port ? this.opts.port : await this.newPort();
    this.known.reset(); // maybe another register
    this.link = new ShtrihLink(port, { logger: this.log, ...this.opts.link });
    return this.link;
  }

  private newPort(): Promise<BytePort> {
    return reopenPort(this.opts.openPort);
  }

  /** a read some registers lack (see host-link optionalRead) */
  private optional<T>(fn: () => Promise<T>): Promise<T | undefined> {
    return optionalRead(fn, this.log, 'shtrih: optional read');
  }

  private bestEffort<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
    return bestEffort(fn, fallback, this.log, 'shtrih: read after a fiscal document');
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.opts.pollIntervalMs ?? 300));
  }
}

function shiftState(mode: number, fnShiftOpen: boolean | undefined): ShiftState {
  if (mode === MODE_SHIFT_EXPIRED) return 'expired';
  if (mode === MODE_SHIFT_OPEN || mode === MODE_DOCUMENT_OPEN) return 'open';
  if (mode === MODE_SHIFT_CLOSED) return 'closed';
  return fnShiftOpen ? 'open' : 'closed';
}

function isBusy(err: unknown): boolean {
  return err instanceof DriverError && err.deviceCode === DEVICE_BUSY_PRINTING;
}

/** A closing command that may have run: link failure after possible delivery, or an unreadable success answer. */
function toUncertain(err: unknown, req: Buffer, lastFdBefore: number | undefined): unknown {
  const maybeRan = (err instanceof LinkError && err.possiblyDelivered) || (err instanceof DriverError && err.code === DriverCodes.BAD_ANSWER);
  if (!maybeRan) return err;
  const fd = lastFdBefore === undefined ? '' : ` (FN last FD before: ${lastFdBefore})`;
  return new UncertainError(`${cmdName(req)} may have been executed: ${errText(err)}${fd}`, { command: cmdName(req), cause: err, lastFdBefore });
}

function noPaper(submode: number): DriverError {
  return new DriverError(DriverCodes.NO_PAPER, 'operator', `no receipt paper (submode ${submode}); load paper, then continue printing`);
}

function cmdName(req: Buffer): string {
  return commandName(commandCode(req));
}

