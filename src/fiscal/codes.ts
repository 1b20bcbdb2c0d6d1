/**
 * The validation codes of the fiscal layer, each with its Russian and English text. The README lists this table;
 * a `fail` result carries `code`, `text` ("русский / English[: detail]") and `field` (the JSON path).
 */
import { validationError, type GatewayError } from '../errors.ts';

export const FISCAL_CODES = {
  BODY_TOO_LARGE: ['Сообщение слишком большое', 'message body too large'],
  BAD_JSON: ['Сообщение не является JSON в UTF-8', 'message body is not UTF-8 JSON'],
  SCHEMA: ['Поле отсутствует или имеет неверный тип', 'field missing or of the wrong type'],
  BAD_EXTERNAL_ID: ['external_id должен содержать от 1 до 128 символов', 'external_id must be 1–128 characters'],
  BAD_OPERATION: ['Неизвестная операция', 'unknown operation'],
  BAD_TIMESTAMP: ['Дата и время должны быть в формате дд.мм.гггг ЧЧ:ММ:СС', 'date/time must be dd.mm.yyyy HH:MM:SS'],
  BAD_AMOUNT: ['Сумма должна быть от 0 до предела с точностью до копейки', 'amount must be within range with at most 2 decimals'],
  BAD_QUANTITY: ['Количество должно быть от 0,001 до 99 999,999 с точностью 0,001', 'quantity must be 0.001–99999.999 with at most 3 decimals'],
  NO_ITEMS: ['В чеке нет позиций', 'receipt has no items'],
  TOO_MANY_ITEMS: ['Слишком много позиций в чеке', 'too many items in the receipt'],
  BAD_NAME: ['Наименование должно содержать от 1 до 128 символов', 'item name must be 1–128 characters'],
  BAD_MEASURE: ['Неизвестная мера количества (тег 2108)', 'unknown measure (tag 2108)'],
  BAD_PAYMENT_METHOD: ['Неизвестный признак способа расчёта (тег 1214)', 'unknown payment method (tag 1214)'],
  BAD_PAYMENT_OBJECT: ['Признак предмета расчёта должен быть 1–27 или 30–33 (тег 1212)', 'payment object must be 1–27 or 30–33 (tag 1212)'],
  BAD_VAT_TYPE: ['Неизвестная или повторная ставка НДС (тег 1199)', 'unknown or repeated VAT rate (tag 1199)'],
  BAD_PAYMENT_TYPE: ['Вид оплаты должен быть 0–4', 'payment type must be 0–4'],
  ITEM_SUM_MISMATCH: ['Сумма позиции не равна цене × количество', 'item sum ≠ price × quantity'],
  TOTAL_MISMATCH: ['Итог чека не равен сумме позиций', 'total ≠ sum of item sums'],
  PAYMENT_MISMATCH: ['Сумма оплат не равна итогу чека', 'sum of payments ≠ total'],
  PAYMENT_KIND_NOT_ALLOWED: ['Вид оплаты недопустим для способа расчёта позиций', 'payment kind not allowed for the items’ payment methods'],
  ADVANCE_OFFSET_EXCEEDS_TOTAL: ['Зачёт аванса превышает сумму позиций полного или частичного расчёта', 'advance offset exceeds the items settled in full or in part'],
  VAT_RATE_DATE: ['Ставка НДС не действует на дату чека', 'VAT rate not in force on the receipt date'],
  VAT_CALCULATED_RATE: ['Для предоплаты и аванса нужна расчётная ставка НДС', 'prepayment and advance items need a calculated VAT rate'],
  VAT_SUM_MISMATCH: ['Сумма НДС не соответствует ставке', 'VAT sum does not match the rate'],
  BAD_TAX_SYSTEM: ['Неизвестная система налогообложения', 'unknown taxation system'],
  TAX_SYSTEM_NOT_REGISTERED: ['Система налогообложения не указана при регистрации ККТ', 'taxation system not registered for this register'],
  COMPANY_INN_MISMATCH: ['ИНН организации не совпадает с ИНН ККТ', 'company INN differs from the register’s INN'],
  UNKNOWN_DEVICE: ['Касса с таким id не подключена к шлюзу', 'no register of this gateway has this id (`device`)'],
  CUSTOMER_CONTACT_REQUIRED: ['Нужен e-mail или телефон покупателя', 'customer e-mail or phone required'],
  BAD_EMAIL: ['Неверный адрес электронной почты', 'bad e-mail address'],
  BAD_PHONE: ['Неверный номер телефона', 'bad phone number'],
  BAD_INN: ['Неверный ИНН (10 или 12 цифр с контрольной суммой)', 'bad INN (10 or 12 digits with a valid checksum)'],
  BAD_CASHIER_INN: ['Неверный ИНН кассира (12 цифр с контрольной суммой)', 'bad cashier INN (12 digits with a valid checksum)'],
  CORRECTION_INFO: ['Неверные данные коррекции (тип, дата, номер предписания)', 'bad correction info (type, base date, order number)'],
  MARKING_NOT_SUPPORTED: ['Маркированные товары (код маркировки) не поддерживаются шлюзом', 'marked goods (mark code) are not supported by this gateway'],
} as const satisfies Record<string, readonly [ru: string, en: string]>;

export type FiscalCode = keyof typeof FISCAL_CODES;

/** A validation GatewayError with the catalogue text, an optional detail and the JSON path of the field. */
export function fiscalError(code: FiscalCode, field?: string, detail?: string): GatewayError {
  const [ru, en] = FISCAL_CODES[code];
  return validationError(code, `${ru} / ${en}${detail === undefined ? '' : `: ${detail}`}`, field);
}
