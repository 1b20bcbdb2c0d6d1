/**
 * The first-run claim's one-time setup code: only someone at the register (the printed slip) or with the log
 * (journald) can read it. One code lives at a time, in memory only: it expires after 15 minutes, dies after 5 wrong
 * tries, and is spent by the claim that uses it; asking again makes a new one.
 */
import { randomInt, timingSafeEqual } from 'node:crypto';

export const CODE_TTL_MS = 15 * 60_000;
export const CODE_TRIES = 5;

export type CodeCheck = 'ok' | 'wrong' | 'expired' | 'none';

interface Live {
  code: string;
  issuedAt: number;
  tries: number;
}

export class SetupCodes {
  private live: Live | undefined;
  constructor(private readonly now: () => number = Date.now) {}

  /** a new code (8 digits, shown as 4-4); the previous one, if any, is void */
  issue(): string {
    const code = String(randomInt(0, 100_000_000)).padStart(8, '0');
    this.live = { code, issuedAt: this.now(), tries: 0 };
    return code;
  }

  /** a code is waiting to be used (neither expired nor killed) */
  pending(): boolean {
    if (this.live && this.now() - this.live.issuedAt > CODE_TTL_MS) this.live = undefined;
    return this.live !== undefined;
  }

  /** checks a typed code; a right one is spent at once (a claim uses it), the 5th wrong one kills it */
  check(typed: unknown): CodeCheck {
    const l = this.live;
    if (!l) return 'none';
    if (this.now() - l.issuedAt > CODE_TTL_MS) {
      this.live = undefined;
      return 'expired';
    }
    const digits = typeof typed === 'string' ? typed.replace(/[\s-]/g, '') : '';
    const ok = digits.length === l.code.length && timingSafeEqual(Buffer.from(digits), Buffer.from(l.code));
    if (ok) {
      this.live = undefined;
      return 'ok';
    }
    if (++l.tries >= CODE_TRIES) this.live = undefined;
    return 'wrong';
  }
}

/** 12345678 → "1234-5678" */
export const showCode = (code: string): string => `${code.slice(0, 4)}-${code.slice(4)}`;
