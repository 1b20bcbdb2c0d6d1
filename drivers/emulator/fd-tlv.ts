/**
 * A fiscal document of the journal as the FN's TLVs (kkt-protocols.md §4), the ONE encoder both front-ends frame
 * (Shtrih FF3A/FF3B, ATOL A4 45/46): tag u16 LE, length u16 LE,
 * value; strings CP866, money VLN (LE, shortest), 1012 UnixTime of the register's local time, 1077 as 6 bytes
 * (00 00 + the fiscal sign u32 BE), 1023 as FVLN with 3 decimals, each item a 1059 STLV.
 */
import iconv from 'iconv-lite';
import { writeUIntLE } from '../shtrih/bytes.ts';
import { parseLocal } from './clock.ts';
import type { FiscalDocument, JournalIdentity, JournalItem, TagMap } from './journal.ts';

const VAT_1199: Record<string, number> = {
  vat20: 1, vat10: 2, vat120: 3, vat110: 4, vat0: 5, none: 6, vat5: 7, vat7: 8, vat105: 9, vat107: 10, vat22: 11, vat122: 12,
};
const STRING_TAGS = ['1008', '1021', '1203', '1117', '1192'];

/** Splits TLVs into blocks of at most `max` bytes: one TLV per block, a longer one cut into pieces (FF3B). */
export function blocksOf(tlvs: Buffer[], max: number): Buffer[] {
  const out: Buffer[] = [];
  for (const t of tlvs) for (let i = 0; i < t.length; i += max) out.push(t.subarray(i, i + max));
  return out;
}

export function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([writeUIntLE(tag, 2), writeUIntLE(value.length, 2), value]);
}

function vln(v: number): Buffer {
  let len = 1;
  while (len < 6 && v >= 2 ** (8 * len)) len++;
  return writeUIntLE(v, len);
}

const str = (tag: number, s: string): Buffer => tlv(tag, iconv.encode(s, 'cp866'));
const u32 = (tag: number, v: number): Buffer => tlv(tag, writeUIntLE(v >>> 0, 4));
const byte = (tag: number, v: number): Buffer => tlv(tag, Buffer.from([v & 0xff]));
const money = (tag: number, v: number): Buffer => tlv(tag, vln(v));
const unixTime = (tag: number, dt: string): Buffer => u32(tag, Math.floor(parseLocal(dt) / 1000));

function fiscalSign(fp: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt32BE(fp >>> 0, 2);
  return tlv(1077, b);
}

function item(i: JournalItem): Buffer {
  const qty = Math.round(i.quantity / 1000);
  const inner = Buffer.concat([
    str(1030, i.name), money(1079, i.price), tlv(1023, Buffer.concat([Buffer.from([3]), vln(qty)])), money(1043, i.sum),
    byte(1199, VAT_1199[i.vat] ?? 6), byte(1214, i.paymentMethod), byte(1212, i.paymentObject),
    ...(i.vatSum !== undefined ? [money(1200, i.vatSum)] : []),
  ]);
  return tlv(1059, inner);
}

function stringTags(tags: TagMap | undefined): Buffer[] {
  const out: Buffer[] = [];
  for (const t of STRING_TAGS) {
    const v = tags?.[t];
    if (typeof v === 'string') out.push(str(Number(t), v));
  }
  return out;
}

/** the document's top-level TLVs, in FN order */
export function encodeDocumentTlvs(doc: FiscalDocument, id: JournalIdentity): Buffer[] {
  const head = [
    unixTime(1012, doc.dateTime), u32(1040, doc.fd), str(1041, id.fnSerial), str(1037, id.registrationNumber),
    str(1018, id.inn.padEnd(12)), u32(1038, doc.shift),
  ];
  if (doc.type === 3 || doc.type === 31) {
    const p = doc.payments ?? { cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 };
    const out = [
      ...head, u32(1042, doc.receiptNo ?? 0), byte(1054, doc.operation ?? 1), byte(1055, doc.taxSystem ?? 1),
      ...(doc.items ?? []).map(item), money(1020, doc.total ?? 0), money(1031, p.cash), money(1081, p.electronic),
      money(1215, p.prepaid), money(1216, p.credit), money(1217, p.other), ...stringTags(doc.tags),
    ];
    if (doc.correction) {
      out.push(byte(1173, doc.correction.type));
      const base: Buffer[] = [];
      if (doc.correction.baseDate) base.push(unixTime(1178, doc.correction.baseDate));
      if (doc.correction.baseNumber) base.push(str(1179, doc.correction.baseNumber));
      out.push(tlv(1174, Buffer.concat(base)));
    }
    out.push(fiscalSign(doc.fiscalSign));
    return out;
  }
  const shiftClose: Buffer[] = [];
  if (doc.type === 5 && doc.counters) {
    const c = doc.counters;
    const receipts = (['1', '2', '3', '4'] as const).reduce((n, o) => n + c.receipts[o] + c.corrections[o], 0);
    // 1118 receipts (and corrections) of the shift; 1111 fiscal documents of the shift, this one included
    shiftClose.push(u32(1118, receipts), u32(1111, c.documents + 1));
  }
  return [...head, ...shiftClose, ...stringTags(doc.tags), fiscalSign(doc.fiscalSign)];
}
