/**
 * Decoding of the FFD TLVs a host sends with FF0C/FF4D into readable strings for the journal (kkt-protocols.md §4).
 * FN strings are CP866; a host that sends another encoding gets mojibake in the journal, as on a real receipt.
 */
import iconv from 'iconv-lite';
import { parseTlvs, readUIntLE } from '../shtrih/bytes.ts';
import { formatLocal } from './clock.ts';

export type TagValue = string | TagMap;
export interface TagMap {
  [tag: string]: TagValue;
}

const STRING_TAGS = new Set([
  1005, 1008, 1009, 1016, 1021, 1026, 1044, 1046, 1048, 1073, 1074, 1075, 1085, 1086, 1117, 1162, 1171, 1179, 1187,
  1191, 1192, 1197, 1203, 1225, 1226, 1227, 1228, 1230, 1231, 1262, 1263, 1264, 1265, 1300, 1301, 1302, 1303,
]);
const BYTE_TAGS = new Set([1055, 1057, 1173, 1212, 1214, 1222, 2108, 1199]);
const DATE_TAGS = new Set([1178, 1263]);
const UNIXTIME_TAGS = new Set([1012]);
const STLV_TAGS = new Set([1084, 1174, 1223, 1224, 1256, 1258, 1260, 1261]);
/** FVLN: first byte = decimal point position */
const FVLN_TAGS = new Set([1023]);

export interface DecodedTlv {
  tag: number;
  value: TagValue;
}

export function decodeTlvList(buf: Uint8Array, encoding = 'cp866'): DecodedTlv[] {
  return parseTlvs(buf).map(({ tag, value }) => ({ tag, value: decodeValue(tag, value, encoding) }));
}

/** TLVs as { "1008": "a@b.ru", … }; a repeated tag keeps its last value. */
export function tlvsToMap(list: DecodedTlv[], into: TagMap = {}): TagMap {
  for (const t of list) into[String(t.tag)] = t.value;
  return into;
}

export function decodeValue(tag: number, value: Buffer, encoding = 'cp866'): TagValue {
  try {
    if (STLV_TAGS.has(tag)) return tlvsToMap(decodeTlvList(value, encoding));
    if (STRING_TAGS.has(tag)) return iconv.decode(value, encoding);
    if (BYTE_TAGS.has(tag) && value.length === 1) return String(value[0]);
    if (DATE_TAGS.has(tag) && value.length === 4) return formatLocal(readUIntLE(value, 0, 4) * 1000).slice(0, 10);
    if (UNIXTIME_TAGS.has(tag) && value.length === 4) return formatLocal(readUIntLE(value, 0, 4) * 1000);
    if (FVLN_TAGS.has(tag) && value.length >= 2) return fvln(value);
    if (value.length >= 1 && value.length <= 6 && tag >= 1000 && !STRING_TAGS.has(tag)) return String(readUIntLE(value, 0, value.length));
  } catch {
    // fall through to hex
  }
  return value.toString('hex');
}

function fvln(value: Buffer): string {
  const point = value[0]!;
  const digits = String(readUIntLE(value, 1, Math.min(value.length - 1, 6))).padStart(point + 1, '0');
  return point === 0 ? digits : `${digits.slice(0, -point)}.${digits.slice(-point)}`;
}
