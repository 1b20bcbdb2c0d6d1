/**
 * ATOL Online v5 receipt message (over MQTT) → ReceiptRequest, or the first typed validation error.
 *
 * Conventions: a required field that is missing, null or of the wrong JSON type is SCHEMA (naming the field); a
 * value of the right type that breaks a rule gets the rule's own code. Optional fields that are null, "" (1C-Bitrix
 * sends `"email": ""`) or, for client contacts, "none" count as absent. Unknown fields are ignored (ATOL
 * compatibility). Only own properties are read, so `__proto__` / `constructor` keys are plain unknown fields.
 */
import { createHash } from 'node:crypto';
import type { Correction, FiscalItem, FiscalReceipt, ItemAgentTags, Payments, TaxSystem, VatType } from '../../drivers/types.ts';
import { GatewayError } from '../errors.ts';
import { routeProblem } from './route.ts';
import { fiscalError, type FiscalCode } from './codes.ts';
import { MAX_TOTAL_KOPECKS, formatRubles, toKopecks, toThousandths } from './money.ts';
import {
  AGENT_TYPES, MEASURES, OPERATIONS, PAYMENT_METHODS, PAYMENT_OBJECTS, PAYMENT_TYPES, TAX_SYSTEMS, VAT_RATES,
  type AgentInfo, type Client, type Company, type ItemAgent, type OperationInfo, type Operation, type ReceiptRequest,
  type SupplierInfo, type ValidationContext, type VatRate,
} from './model.ts';
import {
  checkItemSum, checkPayments, checkVatDate, checkVatSum, isValidEmail, isValidInn, normalizePhone, type PaymentLine,
} from './rules.ts';

export type { ValidationContext };

export type ParseResult =
  | { ok: true; request: ReceiptRequest }
  | { ok: false; error: GatewayError; externalId?: string };

const DEFAULT_MAX_ITEMS = 100;
const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
const MAX_PAYMENTS = 10;
const MAX_VATS = 6;
const SUPPLIER_NEEDS_CONTACTS: ReadonlySet<string> = new Set([
  'bank_paying_agent', 'bank_paying_subagent', 'paying_agent', 'paying_subagent',
]);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Length in characters (code points), not UTF-16 units. */
function charCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function schema(field: string, detail: string): GatewayError {
  return fiscalError('SCHEMA', field || undefined, detail);
}

/** Typed reads of one JSON object's own fields, each error naming the field's JSON path. */
class Fields {
  private constructor(private readonly o: Obj, readonly base: string) {}

  static of(v: unknown, field: string): Fields {
    if (!isObj(v)) throw schema(field, 'must be an object');
    return new Fields(v, field);
  }

  path(key: string): string {
    return this.base ? `${this.base}.${key}` : key;
  }

  /** the raw own value; undefined when absent */
  raw(key: string): unknown {
    return Object.hasOwn(this.o, key) ? this.o[key] : undefined;
  }

  present(key: string): boolean {
    const v = this.raw(key);
    return v !== undefined && v !== null && v !== '';
  }

  obj(key: string): Fields {
    return Fields.of(this.raw(key), this.path(key));
  }

  optObj(key: string): Fields | undefined {
    return this.present(key) ? this.obj(key) : undefined;
  }

  /** a required string of 1–max characters; a bad length is `code` */
  str(key: string, max: number, code: FiscalCode = 'SCHEMA'): string {
    const v = this.raw(key);
    if (typeof v !== 'string') throw schema(this.path(key), 'must be a string');
    if (v.length === 0 || v.length > 2 * max || charCount(v) > max) {
      throw fiscalError(code, this.path(key), `must be 1–${max} characters`);
    }
    return v;
  }

  optStr(key: string, max: number, code: FiscalCode = 'SCHEMA'): string | undefined {
    return this.present(key) ? this.str(key, max, code) : undefined;
  }

  /** a required array of min–max entries */
  list(key: string, min: number, max: number): unknown[] {
    const v = this.raw(key);
    if (!Array.isArray(v)) throw schema(this.path(key), 'must be an array');
    if (v.length < min || v.length > max) throw schema(this.path(key), `must have ${min}–${max} entries`);
    return v;
  }

  /** a required integer from `allowed`; another number is `code` */
  int(key: string, allowed: ReadonlySet<number>, code: FiscalCode): number {
    const v = this.raw(key);
    if (typeof v !== 'number') throw schema(this.path(key), 'must be a number');
    if (!allowed.has(v)) throw fiscalError(code, this.path(key), String(v));
    return v;
  }

  /** a required string naming an entry of `table`; another string is `code` */
  oneOf<T>(key: string, table: ReadonlyMap<string, T>, code: FiscalCode): [string, T] {
    const name = this.str(key, 64, code);
    const value = table.get(name);
    if (value === undefined) throw fiscalError(code, this.path(key), name);
    return [name, value];
  }

  money(key: string, max?: number): number {
    return toKopecks(this.raw(key), this.path(key), max);
  }
}

/** Drops the properties whose value is undefined (optional model fields are absent, not undefined). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const DATE = /^(\d{2})\.(\d{2})\.(\d{4})$/;
const TIME = /^(\d{2}):(\d{2}):(\d{2})$/;

/** "dd.mm.yyyy" → "YYYY-MM-DD", or undefined when not a calendar date. */
export function parseDate(s: string): string | undefined {
  const m = DATE.exec(s);
  if (m === null) return undefined;
  const [, dd, mm, yyyy] = m as unknown as [string, string, string, string];
  const day = Number(dd), month = Number(mm), year = Number(yyyy);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  return day >= 1 && day <= days ? `${yyyy}-${mm}-${dd}` : undefined;
}

/** "dd.mm.yyyy HH:MM:SS" → local "YYYY-MM-DDTHH:MM:SS", or undefined. */
export function parseTimestamp(s: string): string | undefined {
  const [d = '', t = '', ...rest] = s.split(' ');
  const date = parseDate(d);
  const m = TIME.exec(t);
  if (date === undefined || m === null || rest.length > 0) return undefined;
  const ok = Number(m[1]) < 24 && Number(m[2]) < 60 && Number(m[3]) < 60;
  return ok ? `${date}T${t}` : undefined;
}

function decode(body: Buffer | string, maxBytes: number): unknown {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > maxBytes) throw fiscalError('BODY_TOO_LARGE', undefined, `${size} bytes > ${maxBytes}`);
  let text: string;
  try {
    text = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw fiscalError('BAD_JSON', undefined, 'not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw fiscalError('BAD_JSON', undefined, e instanceof Error ? e.message : 'syntax error');
  }
}

function inn(f: Fields, key: string, code: 'BAD_INN' | 'BAD_CASHIER_INN' = 'BAD_INN', lengths?: number[]): string {
  const v = f.str(key, 12, code);
  if (!isValidInn(v, lengths)) throw fiscalError(code, f.path(key), v);
  return v;
}

function optInn(f: Fields, key: string): string | undefined {
  return f.present(key) ? inn(f, key) : undefined;
}

function phoneAt(v: unknown, field: string): string {
  if (typeof v !== 'string') throw schema(field, 'must be a string');
  const phone = v.length <= 32 ? normalizePhone(v) : undefined;
  if (phone === undefined) throw fiscalError('BAD_PHONE', field, v.slice(0, 32));
  return phone;
}

function optPhones(f: Fields, key: string): string[] | undefined {
  return f.present(key) ? f.list(key, 1, 16).map((v, i) => phoneAt(v, `${f.path(key)}[${i}]`)) : undefined;
}

function email(f: Fields, key: string): string {
  const v = f.str(key, 64, 'BAD_EMAIL');
  if (!isValidEmail(v)) throw fiscalError('BAD_EMAIL', f.path(key), v);
  return v;
}

/** client e-mail / phone: absent when missing, null, "" or "none" */
function contact(f: Fields, key: string): boolean {
  return f.present(key) && f.raw(key) !== 'none';
}

function readCompany(f: Fields, ctx: ValidationContext, device: string | undefined): Company {
  const sno = f.str('sno', 32, 'BAD_TAX_SYSTEM') as TaxSystem;
  if (!TAX_SYSTEMS.includes(sno)) throw fiscalError('BAD_TAX_SYSTEM', f.path('sno'), sno);
  if (ctx.registers === undefined && ctx.registeredTaxSystems !== undefined && !ctx.registeredTaxSystems.includes(sno)) {
    throw fiscalError('TAX_SYSTEM_NOT_REGISTERED', f.path('sno'), `${sno} ∉ [${ctx.registeredTaxSystems.join(', ')}]`);
  }
  const company = defined<Company>({
    email: email(f, 'email'),
    sno,
    inn: inn(f, 'inn'),
    paymentAddress: f.str('payment_address', 256),
    location: f.optStr('location', 256),
  });
  if (ctx.registers !== undefined) {
    // a pool: some register (the pinned one, if any) must be registered for this company and taxation system
    const problem = routeProblem({ ...(device !== undefined ? { device } : {}), inn: company.inn, sno }, ctx.registers);
    if (problem) throw fiscalError(problem.code, problem.code === 'UNKNOWN_DEVICE' ? 'device' : f.path(problem.code === 'COMPANY_INN_MISMATCH' ? 'inn' : 'sno'), problem.detail);
  } else if (ctx.companyInn !== undefined && company.inn !== ctx.companyInn) {
    throw fiscalError('COMPANY_INN_MISMATCH', f.path('inn'), `${company.inn} ≠ ${ctx.companyInn}`);
  }
  return company;
}

function readClient(f: Fields | undefined, required: boolean, field: string): Client {
  const client = f === undefined ? {} : defined<Client>({
    email: contact(f, 'email') ? email(f, 'email') : undefined,
    phone: contact(f, 'phone') ? phoneAt(f.raw('phone'), f.path('phone')) : undefined,
    name: f.optStr('name', 256),
    inn: optInn(f, 'inn'),
  });
  if (required && client.email === undefined && client.phone === undefined) {
    throw fiscalError('CUSTOMER_CONTACT_REQUIRED', field);
  }
  return client;
}

function readCorrection(f: Fields): Correction {
  if (!f.present('correction_info')) throw fiscalError('CORRECTION_INFO', f.path('correction_info'), 'required');
  const info = f.obj('correction_info');
  const type = info.raw('type');
  if (type !== 'self' && type !== 'instruction') throw fiscalError('CORRECTION_INFO', info.path('type'), 'must be "self" or "instruction"');
  const rawDate = info.raw('base_date');
  const baseDate = typeof rawDate === 'string' ? parseDate(rawDate) : undefined;
  if (baseDate === undefined) throw fiscalError('CORRECTION_INFO', info.path('base_date'), 'must be dd.mm.yyyy');
  const baseNumber = info.optStr('base_number', 32, 'CORRECTION_INFO');
  if (type === 'instruction' && baseNumber === undefined) {
    throw fiscalError('CORRECTION_INFO', info.path('base_number'), 'required for "instruction"');
  }
  return defined<Correction>({ type: type === 'self' ? 0 : 1, baseDate, baseNumber });
}

function readAgent(f: Fields): AgentInfo {
  const type = f.str('type', 32);
  if (!AGENT_TYPES.has(type)) throw schema(f.path('type'), `unknown agent type ${type}`);
  const paying = f.optObj('paying_agent');
  const operator = f.optObj('receive_payments_operator');
  const transfer = f.optObj('money_transfer_operator');
  return defined<AgentInfo>({
    type,
    payingAgent: paying && defined({ operation: paying.optStr('operation', 24), phones: optPhones(paying, 'phones') }),
    receivePaymentsOperator: operator && defined({ phones: optPhones(operator, 'phones') }),
    moneyTransferOperator: transfer && defined({
      phones: optPhones(transfer, 'phones'),
      name: transfer.optStr('name', 64),
      address: transfer.optStr('address', 256),
      inn: optInn(transfer, 'inn'),
    }),
  });
}

function readSupplier(f: Fields, agentType: string | undefined): SupplierInfo {
  const supplier = defined<SupplierInfo>({ inn: inn(f, 'inn'), name: f.optStr('name', 256), phones: optPhones(f, 'phones') });
  if (agentType !== undefined && SUPPLIER_NEEDS_CONTACTS.has(agentType)) {
    if (supplier.phones === undefined) throw schema(f.path('phones'), `required for agent type ${agentType}`);
    if (supplier.name === undefined) throw schema(f.path('name'), `required for agent type ${agentType}`);
  }
  return supplier;
}

function readItemAgent(f: Fields): ItemAgent | undefined {
  const agentFields = f.optObj('agent_info');
  const supplierFields = f.optObj('supplier_info');
  if (agentFields === undefined && supplierFields === undefined) return undefined;
  const agent = agentFields && readAgent(agentFields);
  if (agent !== undefined && supplierFields === undefined) throw schema(f.path('supplier_info'), 'required with agent_info');
  return defined<ItemAgent>({ agent, supplier: supplierFields && readSupplier(supplierFields, agent?.type) });
}

/** Tag 1222 bit of each ATOL agent type. */
const AGENT_BITS: Readonly<Record<string, number>> = {
  bank_paying_agent: 0x01, bank_paying_subagent: 0x02, paying_agent: 0x04, paying_subagent: 0x08, attorney: 0x10, commission_agent: 0x20, another: 0x40,
};

/** What the register gets of an item's agent data (1222, 1224 {1225, 1171}, 1226). */
function agentTags(a: ItemAgent): ItemAgentTags {
  return defined<ItemAgentTags>({
    agentBits: a.agent && AGENT_BITS[a.agent.type],
    supplierInn: a.supplier?.inn,
    supplierName: a.supplier?.name,
    supplierPhones: a.supplier?.phones,
  });
}

/** What the per-item and receipt-level VAT rules need to know about the receipt. */
interface VatContext {
  /** "YYYY-MM-DD" the rates are judged by: the receipt date, or the corrected settlement's date */
  date: string;
  refund: boolean;
}

function readVatType(f: Fields, vatCtx: VatContext): [VatType, VatRate] {
  const [type, rate] = f.oneOf('type', VAT_RATES, 'BAD_VAT_TYPE');
  checkVatDate(type, rate, vatCtx.date, vatCtx.refund, f.path('type'));
  return [type as VatType, rate];
}

/** ATOL v5 item fields of marked goods (tags 2000 / 1291 / 2102). */
const MARKING_FIELDS = ['mark_code', 'mark_quantity', 'mark_processing_mode'] as const;

function readItem(f: Fields, vatCtx: VatContext): { item: FiscalItem; agent: ItemAgent | undefined } {
  const name = f.str('name', 128, 'BAD_NAME');
  if (name.trim() === '') throw fiscalError('BAD_NAME', f.path('name'), 'blank');
  // marked goods need tag 2000 / FF67–FF69 checks the gateway does not do: refuse rather than print without the code
  for (const key of MARKING_FIELDS) {
    if (f.present(key)) throw fiscalError('MARKING_NOT_SUPPORTED', f.path(key), 'a receipt with a mark code must go through a register set up for marking');
  }
  const price = f.money('price');
  const quantity = toThousandths(f.raw('quantity'), f.path('quantity'));
  const sum = f.money('sum');
  checkItemSum(price, quantity, sum, f.path('sum'));
  if (f.raw('measure') === undefined) throw schema(f.path('measure'), 'required (null is read as 0, pieces)');
  const measure = f.raw('measure') === null ? 0 : f.int('measure', MEASURES, 'BAD_MEASURE');
  const [, paymentMethod] = f.oneOf('payment_method', PAYMENT_METHODS, 'BAD_PAYMENT_METHOD');
  const paymentObject = f.int('payment_object', PAYMENT_OBJECTS, 'BAD_PAYMENT_OBJECT');
  const vatFields = f.obj('vat');
  const [vat, rate] = readVatType(vatFields, vatCtx);
  if (paymentMethod <= 3 && !rate.prepayment) {
    throw fiscalError('VAT_CALCULATED_RATE', vatFields.path('type'), `${vat} on a prepayment/advance item`);
  }
  const vatSum = vatFields.present('sum') ? vatFields.money('sum', MAX_TOTAL_KOPECKS) : undefined;
  if (vatSum !== undefined) checkVatSum(sum, vatSum, rate, 1, vatFields.path('sum'));
  const agent = readItemAgent(f);
  const item = defined<FiscalItem>({ name, price, quantity, sum, vat, vatSum, paymentMethod, paymentObject, measure, agent: agent && agentTags(agent) });
  return { item, agent };
}

function readPayments(f: Fields): PaymentLine[] {
  return f.list('payments', 1, MAX_PAYMENTS).map((v, i) => {
    const p = Fields.of(v, `${f.path('payments')}[${i}]`);
    return { type: p.int('type', PAYMENT_TYPES, 'BAD_PAYMENT_TYPE'), sum: p.money('sum', MAX_TOTAL_KOPECKS) };
  });
}

function payments(lines: readonly PaymentLine[]): Payments {
  const by = (type: number): number => lines.reduce((s, p) => (p.type === type ? s + p.sum : s), 0);
  return { cash: by(0), electronic: by(1), prepaid: by(2), credit: by(3), other: by(4) };
}

/** Receipt-level `vats[]`: known, unrepeated rates in force, each sum within 1 kopeck per item of that rate. */
function readVats(f: Fields, items: readonly FiscalItem[], vatCtx: VatContext): NonNullable<ReceiptRequest['vats']> {
  const seen = new Set<string>();
  return f.list('vats', 1, MAX_VATS).map((v, i) => {
    const entry = Fields.of(v, `${f.path('vats')}[${i}]`);
    const [type, rate] = readVatType(entry, vatCtx);
    if (seen.has(type)) throw fiscalError('BAD_VAT_TYPE', entry.path('type'), `${type} repeated`);
    seen.add(type);
    const sum = entry.money('sum', MAX_TOTAL_KOPECKS);
    const covered = items.filter((it) => it.vat === type);
    checkVatSum(covered.reduce((s, it) => s + it.sum, 0), sum, rate, covered.length, entry.path('sum'));
    return { type, sum };
  });
}

function readCashier(f: Fields): FiscalReceipt['cashier'] {
  const name = f.optStr('cashier', 64);
  const cashierInn = f.present('cashier_inn') ? inn(f, 'cashier_inn', 'BAD_CASHIER_INN', [12]) : undefined;
  if (cashierInn !== undefined && name === undefined) throw schema(f.path('cashier'), 'required with cashier_inn');
  return name === undefined ? undefined : defined({ name, inn: cashierInn });
}

function readExternalId(root: Fields): string {
  return root.str('external_id', 128, 'BAD_EXTERNAL_ID');
}

function readOperation(root: Fields): [Operation, OperationInfo] {
  const [name, info] = root.oneOf('operation', OPERATIONS, 'BAD_OPERATION');
  return [name as Operation, info];
}

function readRequest(root: Fields, externalId: string, bodyHash: string, ctx: ValidationContext): ReceiptRequest {
  const [operation, op] = readOperation(root);
  const timestamp = root.str('timestamp', 19, 'BAD_TIMESTAMP');
  const dateTime = parseTimestamp(timestamp);
  if (dateTime === undefined) throw fiscalError('BAD_TIMESTAMP', 'timestamp', timestamp);

  const doc = root.obj(op.correction ? 'correction' : 'receipt');
  const correction = op.correction ? readCorrection(doc) : undefined;
  const vatCtx: VatContext = { date: correction?.baseDate ?? dateTime.slice(0, 10), refund: op.refund };

  const itemList = doc.list('items', 0, Infinity);
  const maxItems = ctx.maxItems ?? DEFAULT_MAX_ITEMS;
  if (itemList.length === 0) throw fiscalError('NO_ITEMS', doc.path('items'));
  if (itemList.length > maxItems) {
    throw fiscalError('TOO_MANY_ITEMS', doc.path('items'), `${itemList.length} > ${maxItems}`);
  }
  const parsed = itemList.map((v, i) => readItem(Fields.of(v, `${doc.path('items')}[${i}]`), vatCtx));
  const items = parsed.map((p) => p.item);

  const total = doc.money('total', MAX_TOTAL_KOPECKS);
  const itemsSum = items.reduce((s, it) => s + it.sum, 0);
  if (total !== itemsSum) throw fiscalError('TOTAL_MISMATCH', doc.path('total'), `${formatRubles(total)} ≠ Σ items ${formatRubles(itemsSum)}`);
  const paymentLines = readPayments(doc);
  checkPayments(items, paymentLines, total, doc.base);
  const vats = doc.present('vats') ? readVats(doc, items, vatCtx) : undefined;

  const device = root.optStr('device', 32);
  const company = readCompany(doc.obj('company'), ctx, device);
  const clientRequired = !op.correction && (ctx.requireCustomerContact ?? true);
  const client = readClient(op.correction ? doc.optObj('client') : doc.obj('client'), clientRequired, doc.path('client'));

  return defined<ReceiptRequest>({
    externalId,
    operation,
    timestamp,
    dateTime,
    device,
    receipt: defined<FiscalReceipt>({
      operation: op.type,
      items,
      payments: payments(paymentLines),
      total,
      taxSystem: company.sno,
      cashier: readCashier(doc),
      customerContact: client.email ?? client.phone,
      customerName: client.name,
      customerInn: client.inn,
      correction,
    }),
    company,
    client,
    vats,
    itemAgents: parsed.map((p) => p.agent),
    bodyHash,
  });
}

/**
 * Parses and validates one receipt message. Never throws: any input gives `ok: true` or a GatewayError (type
 * `validation`; an unexpected fault becomes INTERNAL / `system`). `externalId` comes back whenever the body has a
 * valid one, so the gateway can answer on the result topic even for an invalid receipt.
 */
export function parseReceiptMessage(body: Buffer | string, ctx: ValidationContext = {}): ParseResult {
  let externalId: string | undefined;
  try {
    const root = Fields.of(decode(body, ctx.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES), '');
    externalId = readExternalId(root);
    const bodyHash = createHash('sha256').update(body).digest('hex');
    return { ok: true, request: readRequest(root, externalId, bodyHash, ctx) };
  } catch (e) {
    const error = e instanceof GatewayError
      ? e
      : new GatewayError('INTERNAL', 'system', `internal validation fault: ${e instanceof Error ? e.message : String(e)}`);
    return externalId === undefined ? { ok: false, error } : { ok: false, error, externalId };
  }
}
