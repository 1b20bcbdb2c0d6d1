/**
 * A fiscal document read back from the FN as TLVs: FF3A (request the document: answers its type and length) then
 * FF3B (read the next block of its TLVs) until the whole length is read (javapos FSReadDocument /
 * FSReadDocumentBlock; FFD types and tags kkt-protocols.md §4). The TLVs are the document's own, without the
 * outer STLV of the document type (an outer one is unwrapped when a firmware sends it).
 */
import iconv from 'iconv-lite';
import type { FnDocumentCopy, FnItemCopy, Payments } from '../types.ts';
import { p2, readUIntLE, writeUIntLE } from './bytes.ts';
import { Cmd, answerData, passwordOnly, request } from './codec.ts';
import { badAnswer } from './errors.ts';

/** FF3A: sysadmin password + FD number4. */
export function requestDocumentRequest(pwd: number, fdNumber: number): Buffer {
  return request(Cmd.FN_REQUEST_DOCUMENT, pwd, writeUIntLE(fdNumber, 4));
}

/** FF3A answer: document type2 (the FFD type = its STLV tag) and length2 (bytes of TLVs to read with FF3B). */
export function decodeDocumentHeader(answer: Buffer): { type: number; length: number } {
  const d = answerData(Cmd.FN_REQUEST_DOCUMENT, answer, 4);
  return { type: readUIntLE(d, 0, 2), length: readUIntLE(d, 2, 2) };
}

/** FF3B: sysadmin password only. */
export function readDocumentBlockRequest(pwd: number): Buffer {
  return passwordOnly(Cmd.FN_READ_DOCUMENT_BLOCK, pwd);
}

/** FF3B answer: the next bytes of the document's TLVs (empty = nothing more). */
export function decodeDocumentBlock(answer: Buffer): Buffer {
  return Buffer.from(answerData(Cmd.FN_READ_DOCUMENT_BLOCK, answer));
}

// ---------------------------------------------------------------------------------------------------------------
// Tag types (FFD 1.05/1.2; javapos TLVTags for the types)

const STLV = new Set([1059, 1084, 1115, 1157, 1158, 1163, 1174, 1194, 1223, 1224, 1256, 1260, 1261, 1270, 1291, 2007]);
/** VLN money, kopecks */
const VLN = new Set([
  1010, 1011, 1020, 1031, 1043, 1079, 1081, 1102, 1103, 1104, 1105, 1106, 1107, 1136, 1138, 1139, 1140, 1141, 1142, 1143,
  1151, 1152, 1153, 1154, 1155, 1183, 1184, 1198, 1200, 1201, 1215, 1216, 1217, 1218, 1219, 1220, 1229, 1293, 1294,
]);
const FVLN = new Set([1023]);
const UNIXTIME = new Set([1012, 1098, 1178, 1273, 2114]);
const STRINGS = new Set([
  1005, 1008, 1009, 1013, 1016, 1017, 1018, 1021, 1026, 1030, 1036, 1037, 1041, 1044, 1046, 1048, 1060, 1073, 1074, 1075,
  1085, 1086, 1117, 1171, 1179, 1187, 1188, 1191, 1192, 1197, 1203, 1205, 1225, 1226, 1227, 1228, 1230, 1231, 1262, 1263,
  1264, 1265, 1300, 1301, 1302, 1303, 2000, 2115,
]);
// everything else that is short is an unsigned integer (bytes, UInt16, UInt32, bit masks): 1038, 1040, 1042, 1054,
// 1055, 1056, 1062, 1199, 1212, 1214, 1222, 2108, …; 1077 is the fiscal sign (below); longer unknown values → hex.
const FISCAL_SIGN = 1077;
const MAX_INT_BYTES = 6;

export type TagValue = string | number | Array<Record<string, unknown>>;

/** "YYYY-MM-DDTHH:MM" of a UnixTime the FN stores: its UTC fields are the register's local time. */
export function unixTimeText(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}`;
}

/**
 * FVLN → thousandths, integer arithmetic: first byte = digits after the decimal point, then a VLN. More than three
 * digits after the point are cut (a quantity this gateway sends always has at most three).
 */
export function fvlnThousandths(v: Buffer): number {
  if (v.length < 2) throw new RangeError(`FVLN of ${v.length} bytes`);
  const point = v[0]!;
  let n = 0n;
  for (let i = v.length - 1; i >= 1; i--) n = n * 256n + BigInt(v[i]!);
  const scaled = point <= 3 ? n * 10n ** BigInt(3 - point) : n / 10n ** BigInt(point - 3);
  if (scaled > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('FVLN out of range');
  return Number(scaled);
}

/**
 * Tag 1077 as the UInt32 the register prints and FF0A / FF45 answer: a 4-byte value is that UInt32 (LE); the
 * 6-byte ФПД of FFD documents carries it big-endian in its last four bytes.
 */
export function fiscalSignOf(v: Buffer): number {
  if (v.length === 4) return v.readUInt32LE(0);
  if (v.length === 6) return v.readUInt32BE(2);
  throw new RangeError(`tag 1077 of ${v.length} bytes`);
}

function decodeValue(tag: number, v: Buffer): TagValue {
  if (STLV.has(tag)) return [decodeTlvs(v)];
  if (tag === FISCAL_SIGN) return fiscalSignOf(v);
  if (FVLN.has(tag)) return fvlnThousandths(v);
  if (UNIXTIME.has(tag)) return unixTimeText(readUIntLE(v, 0, Math.min(v.length, 4)));
  if (STRINGS.has(tag)) return iconv.decode(v, 'cp866').replace(/\0+$/, '').trim();
  if (VLN.has(tag) || v.length <= MAX_INT_BYTES) {
    if (v.length <= MAX_INT_BYTES) return v.length === 0 ? 0 : readUIntLE(v, 0, v.length);
    // an 8-byte VLN (totals of FN reports): exact when it fits a safe integer, else kept as hex
    let n = 0n;
    for (let i = v.length - 1; i >= 0; i--) n = n * 256n + BigInt(v[i]!);
    if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(n);
  }
  return v.toString('hex').toUpperCase();
}

/**
 * TLVs (tag UInt16 LE, length UInt16 LE, value) → { tag: value }: a tag seen twice becomes an array of its values;
 * STLVs are always arrays of objects. Throws RangeError on a TLV running past the end.
 */
export function decodeTlvs(buf: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let i = 0;
  while (i < buf.length) {
    if (i + 4 > buf.length) throw new RangeError(`${buf.length - i} stray bytes after the TLVs`);
    const tag = buf.readUInt16LE(i);
    const len = buf.readUInt16LE(i + 2);
    if (i + 4 + len > buf.length) throw new RangeError(`TLV ${tag}: length ${len} past the end`);
    const value = decodeValue(tag, buf.subarray(i + 4, i + 4 + len));
    const key = String(tag);
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else if (STLV.has(tag)) (prev as unknown[]).push(...(value as unknown[]));
    else out[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
    i += 4 + len;
  }
  return out;
}

/** The document's TLVs without an outer STLV of its own type (some firmware may send it wrapped). */
function unwrap(type: number, buf: Buffer): Buffer {
  if (buf.length >= 4 && buf.readUInt16LE(0) === type && buf.readUInt16LE(2) === buf.length - 4) return buf.subarray(4);
  return buf;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function itemOf(t: Record<string, unknown>): FnItemCopy {
  const item: FnItemCopy = {
    name: str(t['1030']) ?? '',
    price: num(t['1079']) ?? 0,
    quantity: num(t['1023']) ?? 0,
    sum: num(t['1043']) ?? 0,
  };
  const vat = num(t['1199']);
  if (vat !== undefined) item.vatRate = vat;
  const method = num(t['1214']);
  if (method !== undefined) item.paymentMethod = method;
  const object = num(t['1212']);
  if (object !== undefined) item.paymentObject = object;
  return item;
}

const PAYMENT_TAGS: ReadonlyArray<[keyof Payments, string]> = [['cash', '1031'], ['electronic', '1081'], ['prepaid', '1215'], ['credit', '1216'], ['other', '1217']];

/** The known tags of a document copy decoded; `tags` keeps every tag as read. */
export function decodeFnDocument(fdNumber: number, type: number, tlvs: Buffer): FnDocumentCopy {
  let tags: Record<string, unknown>;
  try {
    tags = decodeTlvs(unwrap(type, tlvs));
  } catch (err) {
    throw badAnswer('FF3B', `document ${fdNumber}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const doc: FnDocumentCopy = { fdNumber, type, tags };
  const set = <K extends keyof FnDocumentCopy>(key: K, v: FnDocumentCopy[K] | undefined): void => {
    if (v !== undefined) doc[key] = v;
  };
  set('operation', num(tags['1054']));
  set('total', num(tags['1020']));
  if (PAYMENT_TAGS.some(([, tag]) => tags[tag] !== undefined)) {
    const payments = { cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 } as Payments;
    for (const [kind, tag] of PAYMENT_TAGS) payments[kind] = num(tags[tag]) ?? 0;
    doc.payments = payments;
  }
  const items = tags['1059'];
  if (Array.isArray(items)) doc.items = items.map((t) => itemOf(t as Record<string, unknown>));
  set('customerContact', str(tags['1008']));
  set('cashier', str(tags['1021']));
  set('shiftNumber', num(tags['1038']));
  set('receiptNumber', num(tags['1042']));
  set('fd', num(tags['1040']));
  set('fiscalSign', num(tags['1077']));
  set('dateTime', str(tags['1012']));
  return doc;
}
