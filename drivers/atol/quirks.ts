/**
 * Every point where the public ATOL v3 sources disagree (the ⚠ of kkt-protocols.md §2), decided in one place.
 * Each is a named option with its default and the reason; where the device can tell, the driver probes it
 * (`probeTaxTable`). Rule for defaults: where the sources disagree on what the DEVICE does, follow [A3]
 * kurbatov/atol4j (it implements «Протокол ККТ 3.1» of 18.04.2019 and has a real-device integration test), unless
 * another source is clearly stronger for that point; the reason is given for every departure.
 *
 * Sources: [A1] Zzzzipper firmware-usbhost (C++), [A2] Crystal Set Retail atol3 plugin (Java, production POS),
 * [A3] kurbatov/atol4j, [A4] lazersib/multimag llpv3.php/atol.php, [A6] evo_kkm_reader catalogue.
 */
import type { OperationType, VatType } from '../types.ts';

export interface AtolQuirks {
  /**
   * ⚠ C2 acknowledge: [A3] and [A2] acknowledge each task result with C2; [A1] and [A4] never do.
   * Default true ([A3]): a device keeps a NEED_RESULT task's result until it is acknowledged, so acknowledging keeps
   * its buffer clean; a device that does not need it just answers (or ignores) the C2. The C2 answer is awaited at
   * most `ackWaitMs` and never required ([A3] expects none, [A2]/[A4] read one).
   */
  ackResults: boolean;
  /** how long to wait for an answer to C2 (not required); default 300 ms */
  ackWaitMs: number;
  /**
   * With `ackResults`: a task's result is acknowledged in the packet that adds the next task (C5 ackTID flags TID
   * payload, kkt-protocols.md §2.2) instead of a C2 of its own: one packet and one turnaround fewer per task. A
   * device that refuses C5 (B4) gets C1 + C2 from then on. Default true.
   */
  ackWithNextAdd: boolean;
  /**
   * ⚠ Synchronous answers vs asynchronous 0xF0 results: [A1] takes A3/A4 right in the answer to C1; [A3] completes a
   * task only on an asynchronous A6/A7 (packet ID 0xF0); [A4]/[A2] read the synchronous state of C1, then the
   * asynchronous result, and [A2] falls back to C3. Not a switch: the host accepts all of them — a result in the
   * answer to C1 or C3, an A6/A7 on 0xF0, and while a task is pending it asks C3 every `pollMs`. These are the C1
   * flags sent: default 0x01 NEED_RESULT, as [A3], [A2] and [A4] send (bit1 ignore-error is never set: a failing
   * receipt step must stop the buffer; bit2 wait-async is not needed since results also come on 0xF0 without it in
   * [A3]'s reading).
   */
  addFlags: number;
  /**
   * After a task ends in an error (A4/A7), send C4: a failed task stops the buffer when ignore-error is not set, and
   * the next add would be answered A5. Default true ([A2] aborts after every asynchronous error; no source
   * contradicts it). An add answered A5 anyway is retried once after a C4.
   */
  abortAfterError: boolean;
  /** C3 polling interval while a task is pending (A1/A2/A8); default 500 ms */
  pollMs: number;
  /**
   * ⚠ Receipt types of correction receipts (92 type): [A3] 7 correction of приход, 9 of расход (and it labels 10
   * "correction of возврат прихода"); [A4] 7 / 8 (приход / расход). Default: 7 and 9 as [A3]; for the returns 8
   * (возврат прихода) and 10 (возврат расхода), the numbering the ATOL emulator (drivers/emulator/atol) uses and, as
   * far as we know, libfptr10's receipt types — this contradicts [A3]'s label of 10 and stays open until a real
   * device is tried (FFD 1.05 corrections only have 1054 = 1 or 3, so 7 and 9 are what matters). An operation
   * without a type here cannot be sent (BAD_DOCUMENT).
   */
  correctionTypes: Partial<Record<OperationType, number>>;
  /**
   * ⚠ 92 "do not print" flag: 0x04 [A1][A4] vs 0x02 [A3]. Default [A3] 0x02 — but the driver never sets it unless
   * `noPrint` is true (receipts are printed), so the default path does not depend on this ⚠.
   */
  noPrintFlag: number;
  noPrint: boolean;
  /**
   * ⚠ EB taxType: the row of the device's tax table [A2] vs tag-1199-like codes [A1]; only 1 (20 %) and 2 (10 %) agree.
   * `probeTaxTable` (default true): at open() the driver reads table 13 «Налоги» (46h, field 3 "tax tag", [A6]) in
   * programming mode and maps each VAT type to the row whose tag is its 1199 value. When the device does not answer
   * that, `taxTypes` decides: 'rows' (default: [A2] is production POS code working against real registers and its row
   * numbering is ATOL's factory table 13: 1 = 20 %, 2 = 10 %, 3 = 0 %, 4 = none, 5 = 20/120, 6 = 10/110, and nothing
   * for the newer rates; [A3] has no EB at all) or 'tag1199' ([A1]). `vatCodes` overrides single types in either case.
   */
  probeTaxTable: boolean;
  taxTypes: 'rows' | 'tag1199';
  vatCodes: Partial<Record<VatType, number>>;
  /**
   * ⚠ EB 1212 (payment object) and 1214 (payment method) as one BCD byte each [A1]; [A2] sends both as 0. Values ≤ 9
   * are the same either way; 1212 goes up to 33. Default 'bcd' ([A1], the only source that sends real values).
   */
  itemAttrEncoding: 'bcd' | 'binary';
  /**
   * ⚠ CRC over the unstuffed DATA (five sources) vs the stuffed bytes ([A1] alone). Default false (unstuffed);
   * identical unless DATA holds FE/FD.
   */
  crcOverStuffed: boolean;
  /**
   * A4 10 shift number and receipt number: binary u16 LE (reference §2.3; the FN's own format, as every other A4 xx
   * answer [A3] reads — A4 20, A4 32 — is binary) vs [A3]'s BCD decode of the swapped bytes (identical below 10).
   * Default 'binary' — a departure from [A3]: its own neighbouring A4 readers are binary, and A4 is an FN pass-through.
   */
  shiftParamsEncoding: 'binary' | 'bcd';
}

/** VAT type → tag 1199 value (kkt-protocols.md §4). */
export const TAG_1199: Readonly<Record<VatType, number>> = {
  vat20: 1, vat10: 2, vat120: 3, vat110: 4, vat0: 5, none: 6,
  vat5: 7, vat7: 8, vat105: 9, vat107: 10, vat22: 11, vat122: 12,
};

/**
 * ATOL factory tax table rows ([A2]). ⚠ The 5 %/7 % and 22 % rates (2025–2026) have no row in any source (whether a
 * firmware update rewrote row 1 or added rows is unknown), so without a readable table 13 they are not sent at all
 * (BAD_DOCUMENT naming `quirks.vatCodes`) rather than under a guessed row — a wrong VAT rate on a fiscal receipt is
 * worse than a refused one ("never a silent guess", kkt-protocols.md §2).
 */
export const TAX_ROWS: Readonly<Partial<Record<VatType, number>>> = {
  vat20: 1, vat10: 2, vat0: 3, none: 4, vat120: 5, vat110: 6,
};

export const DEFAULT_QUIRKS: Readonly<AtolQuirks> = {
  ackResults: true,
  ackWaitMs: 300,
  ackWithNextAdd: true,
  addFlags: 0x01,
  abortAfterError: true,
  pollMs: 500,
  correctionTypes: { 1: 7, 2: 8, 3: 9, 4: 10 },
  noPrintFlag: 0x02,
  noPrint: false,
  probeTaxTable: true,
  taxTypes: 'rows',
  vatCodes: {},
  itemAttrEncoding: 'bcd',
  crcOverStuffed: false,
  shiftParamsEncoding: 'binary',
};

export function resolveQuirks(over: Partial<AtolQuirks> = {}): AtolQuirks {
  return {
    ...DEFAULT_QUIRKS,
    ...over,
    correctionTypes: { ...DEFAULT_QUIRKS.correctionTypes, ...over.correctionTypes },
    vatCodes: { ...over.vatCodes },
  };
}

/** The EB tax byte for a VAT type: probed table first, then `vatCodes`, then the `taxTypes` numbering. */
export function taxTypeFor(vat: VatType, q: AtolQuirks, probed?: ReadonlyMap<number, number>): number | undefined {
  const override = q.vatCodes[vat];
  if (override !== undefined) return override;
  const tag = TAG_1199[vat];
  if (tag === undefined) return undefined;
  // a probed table is the device's own word: a rate it has no row for is not sent under another rate's row
  if (probed && probed.size > 0) return probed.get(tag);
  return q.taxTypes === 'tag1199' ? tag : TAX_ROWS[vat];
}
