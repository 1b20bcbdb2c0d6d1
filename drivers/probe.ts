/**
 * Is there a register of this protocol behind a byte port? One harmless question per protocol, answered within a
 * short timeout (kkt-protocols.md §1.3, §2.1):
 *  - Shtrih-M: ENQ (05h). A Shtrih register always answers it with NAK (15h, ready) or ACK (06h, an answer is
 *    pending) — never executes anything.
 *  - ATOL v3: the abort frame C4 (`FE 01 00 06 C4 58`, packet ID 06h). An ATOL register answers with a frame that
 *    carries the same packet ID. C4 clears the task buffer only (what the ATOL driver sends first anyway); an open
 *    receipt stays open.
 * Neither question contains a byte the other protocol reacts to: the abort frame holds no STX (02h) or ENQ (05h), and
 * an ATOL register ignores everything before FE.
 */
import type { BytePort } from './transport.ts';

export type ProbeAnswer = 'yes' | 'no';

const ENQ = 0x05;
const ACK = 0x06;
const NAK = 0x15;
export const ATOL_PROBE_ID = 0x06;
const ATOL_ABORT = Buffer.from([0xfe, 0x01, 0x00, ATOL_PROBE_ID, 0xc4, 0x58]);

/** Writes `question` and waits until `recognise` says yes for what came back, or the timeout passes. */
async function ask(port: BytePort, question: Buffer, recognise: (seen: Buffer) => boolean, timeoutMs: number): Promise<ProbeAnswer> {
  let seen = Buffer.alloc(0);
  let settle: (a: ProbeAnswer) => void = () => undefined;
  const answer = new Promise<ProbeAnswer>((resolve) => (settle = resolve));
  const timer = setTimeout(() => settle('no'), timeoutMs);
  port.onData((chunk) => {
    seen = Buffer.concat([seen, chunk]).subarray(-512);
    if (recognise(seen)) settle('yes');
  });
  port.onGone(() => settle('no'));
  try {
    await port.write(question);
  } catch {
    settle('no');
  }
  const a = await answer;
  clearTimeout(timer);
  return a;
}

export function probeShtrih(port: BytePort, timeoutMs: number): Promise<ProbeAnswer> {
  return ask(port, Buffer.from([ENQ]), (seen) => seen.includes(ACK) || seen.includes(NAK), timeoutMs);
}

/** An answer frame to the probe: FE, two 7-bit length halves, the probe's packet ID. */
export function isAtolAnswer(seen: Buffer): boolean {
  for (let i = seen.indexOf(0xfe); i >= 0 && i + 3 < seen.length; i = seen.indexOf(0xfe, i + 1)) {
    if (seen[i + 1]! < 0x80 && seen[i + 2]! < 0x80 && seen[i + 3] === ATOL_PROBE_ID) return true;
  }
  return false;
}

export function probeAtol(port: BytePort, timeoutMs: number): Promise<ProbeAnswer> {
  return ask(port, ATOL_ABORT, isAtolAnswer, timeoutMs);
}
