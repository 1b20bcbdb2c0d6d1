/**
 * ATOL v3 command error codes (the `err` of a `55 err ext` answer; kkt-protocols.md §2.3, [A3]
 * error-messages.properties, [A6]'s catalogue) → stable code names and how to treat them, with the same kinds and,
 * where the meaning is the same, the same code names as drivers/shtrih/errors.ts (NO_PAPER, COVER_OPEN,
 * SHIFT_EXPIRED, RECEIPT_OPEN, NO_LINK, RESULT_UNKNOWN …). Plus the driver's own codes.
 */
import { DriverError, type ErrorKind } from '../types.ts';

export interface DeviceErrorInfo {
  code: string;
  kind: ErrorKind;
  ru: string;
}

const e = (code: string, kind: ErrorKind, ru: string): DeviceErrorInfo => ({ code, kind, ru });
const rejected = (code: string, ru: string): DeviceErrorInfo => e(code, 'rejected', ru);

export const DEVICE_ERRORS: ReadonlyMap<number, DeviceErrorInfo> = new Map<number, DeviceErrorInfo>([
  [0x08, rejected('BAD_PRICE', 'Неверная цена (сумма)')],
  [0x0a, rejected('BAD_QUANTITY', 'Неверное количество')],
  [0x0b, rejected('CASH_COUNTER_OVERFLOW', 'Переполнение счетчика наличности')],
  [0x13, rejected('BAD_FORMAT', 'Неверный формат')],
  [0x14, rejected('BAD_LENGTH', 'Неверная длина')],
  [0x15, e('CONFIRM_DATE', 'operator', 'ККТ заблокирована в режиме ввода даты')],
  [0x16, e('CONFIRM_DATE', 'operator', 'Требуется подтверждение ввода даты')],
  [0x1a, e('Z_REPORT_INTERRUPTED', 'operator', 'Отчет с гашением прерван')],
  [0x1e, e('MODE_LOCKED', 'operator', 'Вход в режим заблокирован')],
  [0x1f, e('CHECK_DATETIME', 'operator', 'Проверьте дату и время')],
  [0x20, e('CLOCK_BEHIND_FN', 'operator', 'Дата и время в ККТ меньше чем в ФН')],
  [0x3f, rejected('RECEIPT_BUFFER_OVERFLOW', 'Переполнение буфера чека')],
  [0x46, rejected('BAD_COMMAND', 'Неверная команда от ККТ')],
  [0x66, e('WRONG_MODE', 'retryable', 'Команда не реализуется в данном режиме ККТ')],
  [0x67, e('NO_PAPER', 'operator', 'Нет бумаги')],
  [0x68, e('PRINTER_LINK_LOST', 'operator', 'Нет связи с принтером чеков')],
  [0x69, e('PRINTER_MECHANICAL_ERROR', 'operator', 'Механическая ошибка печатающего устройства')],
  [0x6a, rejected('BAD_RECEIPT_TYPE', 'Неверный тип чека')],
  [0x6c, rejected('BAD_REGISTER', 'Неверный номер регистра')],
  [0x71, rejected('NONCASH_OVER_TOTAL', 'Сумма не наличных платежей превышает сумму чека')],
  [0x72, rejected('PAYMENTS_LESS_THAN_TOTAL', 'Сумма платежей меньше суммы чека')],
  [0x73, rejected('NOT_ENOUGH_ACCUMULATED', 'Накопление меньше суммы возврата или аннулирования')],
  [0x75, rejected('PAYMENTS_OVERFLOW', 'Переполнение суммы платежей')],
  [0x76, e('PREVIOUS_NOT_FINISHED', 'retryable', 'Предыдущая операция не завершена')],
  [0x7a, rejected('NOT_SUPPORTED', 'Данная модель ККТ не может выполнить команду')],
  [0x7b, rejected('BAD_DISCOUNT', 'Неверная величина скидки / надбавки')],
  [0x7d, rejected('BAD_SECTION', 'Неверная секция')],
  [0x7e, rejected('BAD_PAYMENT_TYPE', 'Неверный вид оплаты')],
  [0x7f, rejected('MULTIPLY_OVERFLOW', 'Переполнение при умножении')],
  [0x80, rejected('FORBIDDEN_BY_SETTINGS', 'Операция запрещена в таблице настроек')],
  [0x81, rejected('TOTAL_OVERFLOW', 'Переполнение итога чека')],
  [0x82, e('RECEIPT_OPEN', 'retryable', 'Открыт чек аннулирования – операция невозможна')],
  [0x86, rejected('PAYMENT_LESS_THAN_TOTAL', 'Вносимая клиентом сумма меньше суммы чека')],
  [0x87, e('RECEIPT_OPEN', 'retryable', 'Открыт чек возврата – операция невозможна')],
  [0x88, e('SHIFT_EXPIRED', 'retryable', 'Смена превысила 24 часа')],
  [0x89, e('RECEIPT_OPEN', 'retryable', 'Открыт чек продажи – операция невозможна')],
  [0x8a, e('FN_EXHAUSTED', 'fatal', 'Переполнение ФП')],
  [0x8c, e('WRONG_PASSWORD', 'operator', 'Неверный пароль')],
  [0x8f, rejected('ALREADY_CLEARED', 'Обнуленная касса (повторное гашение невозможно)')],
  [0x91, rejected('BAD_TABLE', 'Неверный номер таблицы')],
  [0x92, rejected('BAD_ROW', 'Неверный номер ряда')],
  [0x93, rejected('BAD_FIELD', 'Неверный номер поля')],
  [0x94, rejected('BAD_DATE', 'Неверная дата')],
  [0x95, rejected('BAD_TIME', 'Неверное время')],
  [0x97, rejected('CHANGE_IMPOSSIBLE', 'Подсчет суммы сдачи невозможен')],
  [0x98, rejected('NOT_ENOUGH_CASH', 'В ККТ нет денег для выплаты')],
  [0x9a, rejected('RECEIPT_CLOSED', 'Чек закрыт – операция невозможна')],
  [0x9b, e('RECEIPT_OPEN', 'retryable', 'Чек открыт – операция невозможна')],
  [0x9c, rejected('SHIFT_OPEN', 'Смена открыта, операция невозможна')],
  [0xa2, rejected('BAD_SHIFT_NUMBER', 'Неверный номер смены')],
  [0xa4, e('WRONG_PASSWORD', 'operator', 'Недопустимый пароль')],
  [0xa8, e('NOT_FISCALIZED', 'fatal', 'ККТ не фискализирована')],
  [0xba, e('FN_EXCHANGE_ERROR', 'retryable', 'Ошибка обмена с фискальным модулем')],
  [0xbe, e('MAINTENANCE_NEEDED', 'operator', 'Необходимо провести профилактические работы')],
  [0xbf, e('SHIFT_NUMBERS_MISMATCH', 'operator', 'Неверные номера смен в ККТ и ФН')],
  [0xc8, rejected('NO_DEVICE_FOR_COMMAND', 'Нет устройства, обрабатывающего данную команду')],
  [0xd0, e('FN_ACTIVATION_IMPOSSIBLE', 'fatal', 'Активация данного ФН в составе данной ККТ невозможна')],
  [0xd1, e('PRINTER_OVERHEAT', 'operator', 'Перегрев головки принтера')],
  [0xd2, e('FN_EXCHANGE_TIMEOUT', 'retryable', 'Ошибка обмена с ФН на уровне интерфейса I2C')],
  [0xd3, rejected('FN_BAD_COMMAND', 'Ошибка формата передачи ФН')],
  [0xd4, e('FN_WRONG_STATE', 'operator', 'Неверное состояние ФН')],
  [0xd5, e('FN_FAILURE', 'fatal', 'Неисправимая ошибка ФН')],
  [0xd6, e('FN_CRYPTO_FAILURE', 'fatal', 'Ошибка КС ФН')],
  [0xd7, e('FN_LIFETIME_EXPIRED', 'fatal', 'Закончен срок эксплуатации ФН')],
  [0xd8, e('FN_STORAGE_EXHAUSTED', 'fatal', 'Архив ФН переполнен')],
  [0xd9, e('FN_BAD_DATETIME', 'operator', 'В ФН переданы неверная дата или время')],
  [0xda, rejected('FN_NO_DATA', 'В ФН нет запрошенных данных')],
  [0xdb, rejected('TOTAL_OVERFLOW', 'Переполнение ФН (итог чека)')],
  [0xdc, rejected('RECEIPT_BUFFER_OVERFLOW', 'Буфер переполнен')],
  [0xdf, rejected('TAX_SUM_TOO_LARGE', 'Сумма налога больше суммы регистраций по чеку')],
  [0xe1, e('FN_WRONG_NUMBER', 'fatal', 'Неверный номер ФН')],
  [0xe6, e('LOW_POWER', 'operator', 'Операция невозможна, недостаточно питания')],
  [0xe7, rejected('FN_BAD_PARAMETER', 'Некорректное значение параметров команды ФН')],
  [0xe8, rejected('FN_TLV_TOO_LARGE', 'Превышение размеров TLV данных ФН')],
  [0xe9, e('FN_NO_OFD_TRANSPORT', 'retryable', 'Нет транспортного соединения ФН')],
  [0xea, e('FN_EXHAUSTED', 'fatal', 'Исчерпан ресурс КС ФН')],
  [0xeb, e('FN_OFD_QUEUE_FULL', 'operator', 'Исчерпан ресурс хранения ФД для отправки ОФД')],
  [0xec, rejected('FN_OFD_REJECTED', 'Сообщение от ОФД не может быть принято ФН')],
  [0xed, e('FN_UNSENT_DOCUMENTS', 'operator', 'В ФН есть неотправленные ФД')],
  [0xef, e('FN_OFD_WAIT_EXHAUSTED', 'operator', 'Исчерпан ресурс ожидания передачи сообщения в ФН')],
  [0xf0, e('SHIFT_EXPIRED', 'retryable', 'Продолжительность смены ФН более 24 часов')],
  [0xf1, e('FN_BAD_INTERVAL', 'operator', 'Неверная разница во времени между двумя операциями ФН')],
  [0xf2, rejected('BAD_COMMAND', 'Неверная команда')],
  [0xf3, rejected('TOO_MANY_ITEMS', 'Количество позиций превысило разрешённый лимит')],
  [0xf4, rejected('NO_DATA_IN_COMMAND', 'Отсутствуют данные в команде')],
  [0xf6, rejected('RECEIPT_TOO_LARGE', 'Превышение максимального размера чека')],
]);

/** Codes the driver raises itself (the same strings as drivers/shtrih/errors.ts DriverCodes where they overlap). */
export const DriverCodes = {
  NO_LINK: 'NO_LINK',
  LINK_GONE: 'LINK_GONE',
  ANSWER_TIMEOUT: 'ANSWER_TIMEOUT',
  ANSWER_LOST: 'ANSWER_LOST',
  LINK_ERROR: 'LINK_ERROR',
  BAD_ANSWER: 'BAD_ANSWER',
  RESULT_UNKNOWN: 'RESULT_UNKNOWN',
  RECEIPT_OPEN: 'RECEIPT_OPEN',
  SHIFT_EXPIRED: 'SHIFT_EXPIRED',
  BAD_DOCUMENT: 'BAD_DOCUMENT',
  NOT_OPEN: 'NOT_OPEN',
  NO_PAPER: 'NO_PAPER',
  COVER_OPEN: 'COVER_OPEN',
  ABORTED: 'ABORTED',
  UNEXPECTED_MODE: 'UNEXPECTED_MODE',
  DEVICE_ERROR: 'DEVICE_ERROR',
  /** task buffer answers B1 overflow / B4 illegal value */
  TASK_BUFFER: 'TASK_BUFFER',
} as const;

export function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

export function describeDeviceError(code: number): DeviceErrorInfo {
  return DEVICE_ERRORS.get(code) ?? e(DriverCodes.DEVICE_ERROR, 'operator', `Ошибка ККТ ${hex2(code)}h`);
}

/** A non-zero `err` in an answer → DriverError with the device code and command attached. */
export function deviceError(code: number, command: string, ext = 0): DriverError {
  const info = describeDeviceError(code);
  const extText = ext ? ` (ext ${hex2(ext)}h)` : '';
  return new DriverError(info.code, info.kind, `${command}: ${hex2(code)}h ${info.ru}${extText}`, { deviceCode: code, command });
}

export { UncertainError, badAnswer } from '../host-link.ts';
