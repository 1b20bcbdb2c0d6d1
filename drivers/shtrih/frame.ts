/** Shtrih-M protocol framing v1 (kkt-protocols.md §1.2): STX LEN payload LRC, LRC = XOR of LEN and payload. */

export const ENQ = 0x05;
export const STX = 0x02;
export const ACK = 0x06;
export const NAK = 0x15;
/** Sent by some devices over TCP/RNDIS after the host's ACK; skipped while waiting for control bytes. */
export const FILLER = 0xff;

export const MAX_PAYLOAD = 255;

export function lrc(len: number, payload: Uint8Array): number {
  let x = len & 0xff;
  for (const b of payload) x ^= b;
  return x;
}

export function encodeFrame(payload: Uint8Array): Buffer {
  if (payload.length === 0 || payload.length > MAX_PAYLOAD) {
    throw new RangeError(`frame payload must be 1..${MAX_PAYLOAD} bytes, got ${payload.length}`);
  }
  const out = Buffer.alloc(payload.length + 3);
  out[0] = STX;
  out[1] = payload.length;
  out.set(payload, 2);
  out[out.length - 1] = lrc(payload.length, payload);
  return out;
}

/**
 * Checks a complete frame (STX LEN payload LRC). Returns the payload, or null when the length or LRC is wrong.
 */
export function decodeFrame(frame: Uint8Array): Buffer | null {
  if (frame.length < 3 || frame[0] !== STX) return null;
  const len = frame[1]!;
  if (frame.length !== len + 3 || len === 0) return null;
  const payload = Buffer.from(frame.subarray(2, 2 + len));
  return lrc(len, payload) === frame[frame.length - 1] ? payload : null;
}

/** Command code of a request or answer payload: 1 byte, or 2 for the FFxx family. */
export function commandCode(payload: Uint8Array): number {
  if (payload[0] === 0xff && payload.length >= 2) return 0xff00 | payload[1]!;
  return payload[0] ?? -1;
}

export function commandName(code: number): string {
  return code > 0xff ? code.toString(16).toUpperCase().padStart(4, '0') : code.toString(16).toUpperCase().padStart(2, '0') + 'h';
}
