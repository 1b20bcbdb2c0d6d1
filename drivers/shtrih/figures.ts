/**
 * The register's own figures (kkt-protocols.md §1.11): registration data (FF09, table 18 via 1Fh), cash registers
 * (1Ah), operating registers (1Bh) and the cumulative totals (service command FE F4). Request encoders and answer
 * decoders only; which registers make up the shift figures is in `REGISTERS` below and in driver.ts.
 */
import { DriverError, type OpName, type Payments, type RegistrationData, type TaxSystem } from '../types.ts';
import { readDateTime5, readUIntLE, writeUIntLE } from './bytes.ts';
import { Cmd, TAX_SYSTEM_BITS, answerData, request } from './codec.ts';
import { badAnswer } from './errors.ts';
import { commandName } from './frame.ts';

// ---------------------------------------------------------------------------------------------------------------
// Registration data

/** FFD 1.0/1.05 answer: DATE_TIME5 INN12 RNM20 tax1 mode1 FD4 FP4 [DATE_TIME5] = 47 (52) data bytes. */
export const REGISTRATION_LEN_105 = 47;
/** FFD 1.1/1.2 answer: DATE_TIME5 INN12 RNM20 tax1 mode1 extMode1 ofdInn12 reason4 FD4 FP4 = 64 data bytes. */
export const REGISTRATION_LEN_12 = 64;

/** ASCII field padded with spaces or NULs (either side); non-printable bytes dropped. */
export function paddedAscii(buf: Uint8Array): string {
  return Buffer.from(buf).toString('latin1').replace(/[^\x20-\x7e]/g, ' ').trim();
}

/** Tag 1062 bits → taxation system names (unknown bits ignored). */
export function taxSystemsFromBits(bits: number): TaxSystem[] {
  return (Object.entries(TAX_SYSTEM_BITS) as Array<[TaxSystem, number]>).filter(([, bit]) => (bits & bit) !== 0).map(([ts]) => ts);
}

function modesOf(bits: number): RegistrationData['modes'] {
  return {
    encryption: (bits & 0x01) !== 0,
    autonomous: (bits & 0x02) !== 0,
    automatic: (bits & 0x04) !== 0,
    services: (bits & 0x08) !== 0,
    bso: (bits & 0x10) !== 0,
    internet: (bits & 0x20) !== 0,
  };
}

/**
 * FF09 «итоги последней фискализации (перерегистрации)». The two layouts are told apart by length (javapos
 * FSReadFiscalization: ≥ 64 data bytes is the FFD 1.1/1.2 one). `dateTime` is the registration's date and time.
 */
export function decodeRegistration(answer: Buffer): RegistrationData {
  const d = answerData(Cmd.FN_REGISTRATION, answer, REGISTRATION_LEN_105);
  const taxBits = d[37]!;
  const modeBits = d[38]!;
  const out: RegistrationData = {
    inn: paddedAscii(d.subarray(5, 17)),
    registrationNumber: paddedAscii(d.subarray(17, 37)),
    taxSystems: taxSystemsFromBits(taxBits),
    modes: modesOf(modeBits),
    modeBits,
    dateTime: readDateTime5(d, 0),
    source: 'fn',
  };
  if (d.length >= REGISTRATION_LEN_12) {
    out.extendedModeBits = d[39]!;
    const ofdInn = paddedAscii(d.subarray(40, 52));
    if (ofdInn && !/^0+$/.test(ofdInn)) out.ofdInn = ofdInn;
    // d[52..55]: reason code of the re-registration (bits), not carried by RegistrationData
    out.fdNumber = readUIntLE(d, 56, 4);
    out.fiscalSign = readUIntLE(d, 60, 4);
  } else {
    out.fdNumber = readUIntLE(d, 39, 4);
    out.fiscalSign = readUIntLE(d, 43, 4);
  }
  return out;
}

/** 1Fh: read a table field: sysadmin password, table1, row2, field1. */
export function readTableRequest(pwd: number, table: number, row: number, field: number): Buffer {
  return request(Cmd.READ_TABLE, pwd, Buffer.from([table]), writeUIntLE(row, 2), Buffer.from([field]));
}

/** 1Fh answer: the field's bytes as stored (strings CP1251 zero padded, numbers LE). */
export function decodeTableValue(answer: Buffer): Buffer {
  return Buffer.from(answerData(Cmd.READ_TABLE, answer, 1));
}

/** Table 18 «Fiscal storage», row 1 (table 14 on Штрих-Mobile): 1 serial, 2 INN, 3 РНМ, 4 FN serial. */
export const FN_TABLE = { table: 18, row: 1, inn: 2, registrationNumber: 3 } as const;

/** A string field of a table (INN, РНМ): printable ASCII, padding removed. */
export function tableText(value: Buffer): string {
  return paddedAscii(value);
}

/** Registration data from table 18 (INN and РНМ only): taxation systems unknown (empty), no mode flags. */
export function registrationFromTable(inn: string, registrationNumber: string): RegistrationData {
  return { inn, registrationNumber, taxSystems: [], modes: modesOf(0), modeBits: 0, source: 'table' };
}

// ---------------------------------------------------------------------------------------------------------------
// Registers

/** 1Ah: any operator password + register number (1 byte for 0–255, 2 bytes LE above). */
export function cashRegisterRequest(pwd: number, register: number): Buffer {
  if (!Number.isInteger(register) || register < 0 || register > 0xffff) throw new RangeError(`cash register ${register}`);
  return request(Cmd.READ_CASH_REGISTER, pwd, register <= 0xff ? Buffer.from([register]) : writeUIntLE(register, 2));
}

/** 1Ah answer: operator1 value6 (kopecks). */
export function decodeCashRegister(answer: Buffer): number {
  const d = answerData(Cmd.READ_CASH_REGISTER, answer, 7);
  return readUIntLE(d, 1, 6);
}

/** 1Bh: password + register number1. */
export function operationRegisterRequest(pwd: number, register: number): Buffer {
  if (!Number.isInteger(register) || register < 0 || register > 0xff) throw new RangeError(`operating register ${register}`);
  return request(Cmd.READ_OPERATION_REGISTER, pwd, Buffer.from([register]));
}

/** 1Bh answer: operator1 value2. */
export function decodeOperationRegister(answer: Buffer): number {
  const d = answerData(Cmd.READ_OPERATION_REGISTER, answer, 3);
  return readUIntLE(d, 1, 2);
}

/** Order of the operations in every group of four cash/operating registers (приход, расход, возврат прихода, возврат расхода). */
export const REGISTER_OP_ORDER: readonly OpName[] = ['sell', 'buy', 'sell_refund', 'buy_refund'];
/** Order of the four FE F4 00 sums (приход, возврат прихода, расход, возврат расхода). */
export const CUMULATIVE_OP_ORDER: readonly OpName[] = ['sell', 'sell_refund', 'buy', 'buy_refund'];

/** Payment kind of an FF45 / register payment type 1–16: 1 cash, 2–13 electronic, 14 prepaid, 15 credit, 16 other. */
export function paymentKind(type: number): keyof Payments {
  if (type === 1) return 'cash';
  if (type >= 2 && type <= 13) return 'electronic';
  if (type === 14) return 'prepaid';
  if (type === 15) return 'credit';
  if (type === 16) return 'other';
  throw new RangeError(`payment type ${type}`);
}

/**
 * Cash register of payment type `type` (1–16) for operation `op` in the open shift: 193 + (type−1)·4 + i for
 * types 1–4, 4144 + (type−5)·4 + i for types 5–16, i in REGISTER_OP_ORDER.
 */
export function paymentRegister(type: number, op: OpName): number {
  const i = REGISTER_OP_ORDER.indexOf(op);
  if (type >= 1 && type <= 4) return 193 + (type - 1) * 4 + i;
  if (type >= 5 && type <= 16) return 4144 + (type - 5) * 4 + i;
  throw new RangeError(`payment type ${type}`);
}

export const REGISTERS = {
  /** 1Ah: cash in the drawer */
  cashInDrawer: 241,
  /** 1Ah: cash-in / cash-out sums this shift */
  cashIn: 242,
  cashOut: 243,
  /** 1Bh: receipts this shift, 144 + i (REGISTER_OP_ORDER) */
  receiptCountBase: 144,
  /** 1Bh: cash-in / cash-out counts this shift */
  cashInCount: 153,
  cashOutCount: 154,
  /** 1Bh: correction receipts this shift */
  corrections: [202, 203] as const,
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Cumulative totals: service command FE F4

/** FE F4 param4: no password (javapos ServiceCommand: function byte, then the parameter as 4 bytes LE). */
export function cumulativeRequest(param = 0): Buffer {
  return Buffer.concat([Buffer.from([Cmd.SERVICE, 0xf4]), writeUIntLE(param, 4)]);
}

/**
 * FE F4 00 answer (`FE err` + data): four uint64 LE (приход, возврат прихода, расход, возврат расхода). A value of
 * all FF bytes is "none" (undefined). Fewer than 32 data bytes: the firmware does not have it (NOT_SUPPORTED).
 */
export function decodeCumulative(answer: Buffer): Record<OpName, number | undefined> {
  const d = answerData(Cmd.SERVICE, answer);
  const name = `${commandName(Cmd.SERVICE)} F4`;
  if (d.length < 32) {
    throw new DriverError('NOT_SUPPORTED', 'rejected', `${name}: ${d.length} data bytes, not the 32 of the cumulative totals`, { command: name });
  }
  const out = {} as Record<OpName, number | undefined>;
  CUMULATIVE_OP_ORDER.forEach((op, i) => {
    const v = d.readBigUInt64LE(i * 8);
    if (v === 0xffff_ffff_ffff_ffffn) out[op] = undefined;
    else if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw badAnswer(name, `cumulative ${op} ${v} out of range`);
    else out[op] = Number(v);
  });
  return out;
}

