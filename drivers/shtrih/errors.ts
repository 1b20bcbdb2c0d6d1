/**
 * Shtrih-M device error codes (kkt-protocols.md §1.10) → stable code names, texts and how to treat them,
 * plus the driver's own (link and state) codes. Every error leaves the driver as a DriverError.
 */
import { DriverError, type ErrorKind } from '../types.ts';

export interface DeviceErrorInfo {
  /** stable UPPER_SNAKE name */
  code: string;
  kind: ErrorKind;
  ru: string;
  en: string;
}

const e = (code: string, kind: ErrorKind, ru: string, en: string): DeviceErrorInfo => ({ code, kind, ru, en });

/** Device error byte → meaning. Codes below 0x20 are FN (fiscal drive) errors on FN-era registers. */
export const DEVICE_ERRORS: ReadonlyMap<number, DeviceErrorInfo> = new Map<number, DeviceErrorInfo>([
  [0x01, e('FN_BAD_COMMAND', 'rejected', 'ФН: неизвестная команда или неверный формат', 'FN: unknown command or bad format')],
  [0x02, e('FN_WRONG_STATE', 'operator', 'ФН: неверное состояние ФН', 'FN: wrong FN state')],
  [0x03, e('FN_FAILURE', 'fatal', 'ФН: отказ ФН', 'FN: FN failure')],
  [0x04, e('FN_CRYPTO_FAILURE', 'fatal', 'ФН: отказ КС', 'FN: crypto-coprocessor failure')],
  [0x05, e('FN_LIFETIME_EXPIRED', 'fatal', 'ФН: закончен срок эксплуатации ФН', 'FN: lifetime/parameters mismatch')],
  [0x07, e('FN_BAD_DATETIME', 'operator', 'ФН: некорректные дата и/или время', 'FN: wrong date/time')],
  [0x08, e('FN_NO_DATA', 'rejected', 'ФН: нет запрошенных данных', 'FN: no requested data')],
  [0x09, e('FN_BAD_PARAMETER', 'rejected', 'ФН: некорректное значение параметров команды', 'FN: bad parameter value')],
  [0x10, e('FN_TLV_TOO_LARGE', 'rejected', 'ФН: превышение размеров TLV данных', 'FN: TLV too large')],
  [0x11, e('FN_NO_OFD_TRANSPORT', 'retryable', 'ФН: нет транспортного соединения', 'FN: no transport connection to OFD')],
  [0x12, e('FN_EXHAUSTED', 'fatal', 'ФН: исчерпан ресурс ФН', 'FN: FN resource exhausted')],
  [0x14, e('FN_STORAGE_EXHAUSTED', 'fatal', 'ФН: исчерпан ресурс хранения', 'FN: storage resource exhausted')],
  [0x16, e('SHIFT_EXPIRED', 'retryable', 'ФН: продолжительность смены более 24 часов', 'FN: shift longer than 24 h')],
  [0x17, e('FN_BAD_INTERVAL', 'operator', 'ФН: неверная разница во времени между документами', 'FN: bad time interval between documents')],
  [0x20, e('FN_OFD_REJECTED', 'rejected', 'ФН: сообщение от ОФД не может быть принято', 'FN: OFD message rejected')],
  [0x2f, e('FN_EXCHANGE_TIMEOUT', 'retryable', 'Таймаут обмена с ФН', 'KKT: FN exchange timeout')],
  [0x30, e('FN_NOT_RESPONDING', 'fatal', 'ФН не отвечает', 'KKT: FN not responding')],
  [0x33, e('BAD_PARAMETERS', 'rejected', 'Некорректные параметры в команде', 'KKT: bad command parameters')],
  [0x34, e('NO_DATA', 'rejected', 'Нет данных', 'KKT: no data')],
  [0x35, e('BAD_PARAMETER_FOR_SETTINGS', 'rejected', 'Некорректный параметр при данных настройках', 'KKT: bad parameter for current settings')],
  [0x36, e('BAD_PARAMETER_FOR_MODEL', 'rejected', 'Некорректные параметры в команде для данной реализации ККТ', 'KKT: bad parameters for this model')],
  [0x37, e('NOT_SUPPORTED', 'rejected', 'Команда не поддерживается в данной реализации ККТ', 'KKT: command not supported')],
  [0x38, e('ROM_ERROR', 'fatal', 'Ошибка в ПЗУ', 'KKT: ROM error')],
  [0x39, e('INTERNAL_ERROR', 'operator', 'Внутренняя ошибка ПО ККТ', 'KKT: internal software error')],
  [0x3c, e('SHIFT_OPEN', 'rejected', 'Смена открыта, операция невозможна', 'KKT: shift open, operation impossible')],
  // ⚠ the protocol PDF says "смена открыта", javapos "смена не открыта"; the driver treats it as "not open".
  [0x3d, e('SHIFT_NOT_OPEN', 'retryable', 'Смена не открыта, операция невозможна', 'KKT: shift not open, operation impossible')],
  [0x45, e('PAYMENTS_LESS_THAN_TOTAL', 'rejected', 'Cумма всех видов оплаты меньше итога чека', 'KKT: payments less than receipt total')],
  [0x46, e('NOT_ENOUGH_CASH', 'rejected', 'Не хватает наличности в кассе', 'KKT: not enough cash in drawer')],
  [0x48, e('TOTAL_OVERFLOW', 'rejected', 'Переполнение итога чека', 'KKT: receipt total overflow')],
  [0x4a, e('RECEIPT_OPEN', 'retryable', 'Открыт чек, операция невозможна', 'KKT: receipt open, operation impossible')],
  [0x4b, e('RECEIPT_BUFFER_OVERFLOW', 'rejected', 'Буфер чека переполнен', 'KKT: receipt buffer overflow')],
  [0x4e, e('SHIFT_EXPIRED', 'retryable', 'Смена превысила 24 часа', 'KKT: shift exceeded 24 h')],
  [0x4f, e('WRONG_PASSWORD', 'operator', 'Неверный пароль', 'KKT: wrong password')],
  [0x50, e('BUSY_PRINTING', 'retryable', 'Идет печать результатов выполнения предыдущей команды', 'KKT: printing previous command')],
  [0x55, e('RECEIPT_CLOSED', 'rejected', 'Чек закрыт, операция невозможна', 'KKT: receipt closed, operation impossible')],
  [0x58, e('WAITING_CONTINUE_PRINT', 'operator', 'Ожидание команды продолжения печати', 'KKT: waiting for continue-print command')],
  [0x5e, e('INVALID_OPERATION', 'rejected', 'Некорректная операция', 'KKT: invalid operation')],
  [0x5f, e('NEGATIVE_TOTAL', 'rejected', 'Отрицательный итог чека', 'KKT: negative receipt total')],
  [0x61, e('PRICE_OVERFLOW', 'rejected', 'Переполнение цены', 'KKT: price overflow')],
  [0x62, e('QUANTITY_OVERFLOW', 'rejected', 'Переполнение количества', 'KKT: quantity overflow')],
  [0x6b, e('NO_PAPER', 'operator', 'Нет чековой ленты', 'KKT: no receipt paper')],
  [0x71, e('CUTTER_ERROR', 'operator', 'Ошибка отрезчика', 'KKT: cutter error')],
  [0x72, e('WRONG_SUBMODE', 'retryable', 'Команда не поддерживается в данном подрежиме', 'KKT: not allowed in this submode')],
  [0x73, e('WRONG_MODE', 'retryable', 'Команда не поддерживается в данном режиме', 'KKT: not allowed in this mode')],
  [0x7e, e('BAD_LENGTH', 'rejected', 'Неверное значение в поле длины', 'KKT: bad length field')],
  [0x8e, e('ZERO_TOTAL', 'rejected', 'Нулевой итог чека', 'KKT: zero receipt total')],
  ...[0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5].map(
    (c) => [c, e('MARKING_ERROR', 'rejected', 'Ошибка кода маркировки', 'FN: marking-code error')] as [number, DeviceErrorInfo],
  ),
  [0xc0, e('CONFIRM_DATE', 'operator', 'Контроль даты и времени (подтвердите дату и время)', 'KKT: confirm date/time')],
  [0xc8, e('PRINTER_LINK_LOST', 'operator', 'Нет связи с принтером', 'KKT: printer link lost')],
]);

/** Codes the driver raises itself (not device error bytes). */
export const DriverCodes = {
  /** no answer to ENQ after the retry limit */
  NO_LINK: 'NO_LINK',
  /** the port closed or failed (USB cable pulled) */
  LINK_GONE: 'LINK_GONE',
  /** the command was accepted (ACKed) but no answer came within its timeout */
  ANSWER_TIMEOUT: 'ANSWER_TIMEOUT',
  /** the command was accepted but the device no longer holds its answer */
  ANSWER_LOST: 'ANSWER_LOST',
  /** the device kept refusing the frame, or kept sending damaged or foreign frames */
  LINK_ERROR: 'LINK_ERROR',
  /** an answer that does not fit the request (wrong code, too short) */
  BAD_ANSWER: 'BAD_ANSWER',
  /** a closing command may have been executed; only the FN can tell */
  RESULT_UNKNOWN: 'RESULT_UNKNOWN',
  /** a receipt is open on the device (mode 8) */
  RECEIPT_OPEN: 'RECEIPT_OPEN',
  /** the shift is open longer than 24 h (mode 3): close it (Z report) first */
  SHIFT_EXPIRED: 'SHIFT_EXPIRED',
  /** the document cannot be expressed in this protocol (e.g. a VAT rate without a device code) */
  BAD_DOCUMENT: 'BAD_DOCUMENT',
  /** the driver was not opened, or was closed */
  NOT_OPEN: 'NOT_OPEN',
  /** paper ran out or the device waits for the continue-print command */
  NO_PAPER: 'NO_PAPER',
  /** the operation was aborted by the caller's AbortSignal */
  ABORTED: 'ABORTED',
  /** the device is in a mode where receipts cannot be made (locked, waiting for date confirmation, …) */
  UNEXPECTED_MODE: 'UNEXPECTED_MODE',
  /** a device error byte not in the table */
  DEVICE_ERROR: 'DEVICE_ERROR',
} as const;

export function describeDeviceError(deviceCode: number): DeviceErrorInfo {
  const hex = deviceCode.toString(16).toUpperCase().padStart(2, '0');
  return (
    DEVICE_ERRORS.get(deviceCode) ??
    e(DriverCodes.DEVICE_ERROR, 'operator', `Ошибка ККТ ${hex}h`, `KKT error ${hex}h`)
  );
}

/** A non-zero error byte in an answer → DriverError (message "ru / en", device code and command attached). */
export function deviceError(deviceCode: number, command: string): DriverError {
  const info = describeDeviceError(deviceCode);
  const hex = deviceCode.toString(16).toUpperCase().padStart(2, '0');
  return new DriverError(info.code, info.kind, `${command}: ${hex}h ${info.ru} / ${info.en}`, { deviceCode, command });
}

export { UncertainError, badAnswer } from '../host-link.ts';
