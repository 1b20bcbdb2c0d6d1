/** Constants of the emulated register, from kkt-protocols.md §1.6–§1.10. */

/** Error codes (§1.10) the emulator answers with. */
export const E = {
  OK: 0x00,
  FN_BAD_STATE: 0x02,
  FN_NO_DATA: 0x08,
  FN_RESOURCE: 0x14,
  BAD_PARAMS: 0x33,
  NOT_SUPPORTED: 0x37,
  SHIFT_OPEN: 0x3c,
  SHIFT_NOT_OPEN: 0x3d,
  PAYMENTS_LESS: 0x45,
  NO_CASH: 0x46,
  TOTAL_OVERFLOW: 0x48,
  WRONG_RECEIPT_TYPE: 0x49,
  RECEIPT_OPEN: 0x4a,
  RECEIPT_BUFFER_FULL: 0x4b,
  NONCASH_ABOVE_TOTAL: 0x4d,
  SHIFT_24H: 0x4e,
  WRONG_PASSWORD: 0x4f,
  RECEIPT_CLOSED: 0x55,
  WAIT_CONTINUE: 0x58,
  NO_PAPER: 0x6b,
  ZERO_TOTAL: 0x8e,
} as const;

/** FF46 tax-rate byte (bitmask of tax-table rows, javapos getVatCodeShtrih) → ATOL v5 vat name. */
export const TAX_BYTES: ReadonlyMap<number, string> = new Map([
  [0x01, 'vat20'],
  [0x02, 'vat10'],
  [0x04, 'vat0'],
  [0x08, 'none'],
  [0x10, 'vat120'],
  [0x20, 'vat110'],
  [0x81, 'vat5'],
  [0x82, 'vat7'],
  [0x84, 'vat105'],
  [0x88, 'vat107'],
  [0xcb, 'vat22'],
  [0xcc, 'vat122'],
]);

/** tag 1054 operation → open-document type (high nibble of mode 8) and back */
export const OP_TO_DOC: Record<number, number> = { 1: 0, 2: 2, 3: 1, 4: 3 };
export const DOC_TO_OP: Record<number, number> = { 0: 1, 1: 3, 2: 2, 3: 4 };

export interface DeviceModel {
  type: number;
  subtype: number;
  protocolVersion: number;
  protocolSubversion: number;
  model: number;
  language: number;
  name: string;
}

/**
 * FCh answer. Name as pyshtrih's discovery matches it («М-01Ф»); model id 250 is javapos' SHTRIH-M-FR-K
 * (the pre-FN ancestor of ШТРИХ-М-01Ф), protocol 1.0 as in javapos' model table. ⚠ not confirmed by a capture.
 */
export const SHTRIH_M_01F: DeviceModel = {
  type: 0,
  subtype: 0,
  protocolVersion: 1,
  protocolSubversion: 0,
  model: 250,
  language: 0,
  name: 'ШТРИХ-М-01Ф',
};

/** flags (10h/11h): receipt roll (bit1) + receipt optical sensor (bit7) = paper; bit9 receipt lever; bit10 cover */
export const FLAG_PAPER = 0x0082;
export const FLAG_BASE = 0x0230;
export const FLAG_COVER = 0x0400;

export const MAX_MONEY = 2 ** 40 - 1;
export const DAY_MS = 86_400_000;
