/** Answer payloads for the Shtrih tests (captured ones from kkt-protocols.md §1.2/§1.8, and ones built from captured facts). */
import { hex } from './peer.ts';

/**
 * 11h answer consistent with the facts of the captured session (§1.2): document 55, last closed shift 9,
 * serial 4239, INN bytes AE A9 DB 56 01 00 = 5752203694. Other fields are plausible values.
 */
export const STATUS_11_ANSWER = hex(`
  11 00          // cmd, error
  1E             // operator 30
  43 2E          // firmware version "C."
  D6 1F          // build 8150
  17 0A 19       // firmware date 23.10.25
  01             // hall number
  37 00          // document number 55
  B2 02          // flags
  04 00 00       // mode 4 (shift closed), submode 0, port 0
  43 2E D6 1F    // FM version, build
  17 0A 19       // FM date
  1C 0B 1A       // date 28.11.26
  05 14 00       // time 05:20:00
  00             // FM flags
  8F 10 00 00    // serial 4239
  09 00          // last closed shift 9
  00 00 01 00    // free FM records, registrations 1, left 0
  AE A9 DB 56 01 00  // INN
`.replace(/\/\/[^\n]*/g, ''));

/** the captured FF01 answer: last FD 45817, FN 9289000100055632 */
export const FN_STATUS_ANSWER = Buffer.concat([hex('FF 01 00 03 00 00 01 00 12 06 15 06 25'), Buffer.from('9289000100055632', 'ascii'), hex('F9 B2 00 00')]);

/** the captured FF45 answer: change 0, FD 221363, FP 0x70DB45DB */
export const CLOSE_ANSWER = hex('FF 45 00 00 00 00 00 00 B3 60 03 00 DB 45 DB 70');

/** the captured FF0A answer: receipt, приход, 1500.00, FD 45817 */
export const FIND_RECEIPT_ANSWER = hex('FF 0A 00 03 00 12 06 15 06 25 F9 B2 00 00 79 58 50 F5 01 F0 49 02 00 00');
