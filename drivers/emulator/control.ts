/**
 * Run-time control of an emulator by text lines (CLI stdin, --control TCP): faults, paper, clock, OFD.
 * Every line is answered with one line, "OK …" or "ERR …". See README.md for the list.
 */
import { formatLocal, parseDuration } from './clock.ts';
import type { Emulator } from './emulator.ts';
import type { CountedLinkFault } from './faults.ts';

const COUNTED: Record<string, CountedLinkFault> = {
  'drop-answer': 'drop-answer',
  'drop-ack': 'drop-ack',
  garble: 'garble-answer',
  'garble-answer': 'garble-answer',
  nak: 'nak-frame',
  'nak-frame': 'nak-frame',
};

export const HELP = [
  'fault drop-answer|drop-ack|garble|nak [N]',
  'fault stall MS [N]',
  'fault paper-out [now|before-item K|during-close]',
  'fault cover-open | cover open|close',
  'fault fn-exhausted [on|off] [CODE]',
  'fault error CODE [COMMAND] [N]     (hex: fault error 4E FF46 2)',
  'fault keyboard-receipt [KOPECKS] [cash|card]   (a receipt typed on the keyboard; default 10000 cash)',
  'fault clear',
  'silent on|off',
  'paper out|in',
  'clock [+|-DURATION]                 (clock +25h, clock -30m, clock)',
  'ofd sent [N]',
  'tape [N]                            (the last N non-fiscal lines printed, " | " between them; default 20)',
  'status',
].join('; ');

export function runControl(emu: Emulator, line: string): string {
  const words = line.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return 'ERR empty command';
  try {
    return `OK ${dispatch(emu, words.map((w) => w.toLowerCase()))}`.trimEnd();
  } catch (e) {
    return `ERR ${(e as Error).message}`;
  }
}

function dispatch(emu: Emulator, [verb, ...args]: string[]): string {
  switch (verb) {
    case 'fault':
      return fault(emu, args);
    case 'silent':
      emu.faults.silent = onOff(args[0]);
      return `silent ${emu.faults.silent ? 'on' : 'off'}`;
    case 'paper':
      return paper(emu, args[0]);
    case 'cover':
      emu.frontEnd.setCover(args[0] === 'open');
      return `cover ${args[0] === 'open' ? 'open' : 'closed'}`;
    case 'tape': {
      const tape = emu.device.register.tape;
      return tape.slice(-(args[0] ? count(args[0]) : 20)).join(' | ');
    }
    case 'clock':
      if (args[0]) emu.advanceClock(parseDuration(args[0]));
      return `clock ${formatLocal(emu.clock.localMs())}`;
    case 'ofd':
      return `ofd acknowledged ${emu.markOfdSent(args[1] === undefined ? undefined : count(args[1]))}`;
    case 'status':
      return status(emu);
    case 'help':
      return HELP;
    default:
      throw new Error(`unknown command ${verb}; try help`);
  }
}

function fault(emu: Emulator, [name, ...args]: string[]): string {
  const counted = COUNTED[name ?? ''];
  if (counted) {
    emu.faults.arm(counted, count(args[0]));
    return `${counted} ×${count(args[0])}`;
  }
  switch (name) {
    case 'stall':
      emu.faults.stall(count(args[0]), count(args[1]));
      return `stall ${count(args[0])} ms ×${count(args[1])}`;
    case 'paper-out':
      return paperOut(emu, args);
    case 'cover-open':
      emu.frontEnd.setCover(true);
      return 'cover open';
    case 'fn-exhausted': {
      const on = args[0] !== 'off';
      const code = args.find((a) => a !== 'on' && a !== 'off');
      emu.frontEnd.setFnExhausted(on, code === undefined ? undefined : hex(code));
      return `fn-exhausted ${on ? 'on' : 'off'}`;
    }
    case 'error':
      return injectError(emu, args);
    case 'keyboard-receipt':
      return keyboardReceipt(emu, args);
    case 'clear':
      emu.faults.clear();
      emu.frontEnd.clearFaults();
      return 'faults cleared';
    default:
      throw new Error(`unknown fault ${name ?? ''}`);
  }
}

function keyboardReceipt(emu: Emulator, args: string[]): string {
  const kind = args.find((a) => a === 'cash' || a === 'card') as 'cash' | 'card' | undefined;
  const sumWord = args.find((a) => a !== 'cash' && a !== 'card');
  const sum = sumWord === undefined ? 10_000 : count(sumWord);
  if (sum <= 0) throw new Error('keyboard-receipt KOPECKS must be > 0');
  const doc = emu.keyboardReceipt(sum, kind ?? 'cash');
  return `keyboard receipt FD ${doc.fd} FP ${doc.fiscalSign} total ${doc.total} ${kind ?? 'cash'}`;
}

function paperOut(emu: Emulator, [where, k]: string[]): string {
  if (where === undefined || where === 'now') {
    emu.frontEnd.paperOutNow();
    return 'paper out';
  }
  if (where === 'before-item') {
    emu.frontEnd.paperOutAt({ at: 'before-item', item: count(k) });
    return `paper out before item ${count(k)}`;
  }
  if (where === 'during-close') {
    emu.frontEnd.paperOutAt({ at: 'during-close' });
    return 'paper out during close';
  }
  throw new Error(`unknown paper-out point ${where}`);
}

function paper(emu: Emulator, what: string | undefined): string {
  if (what === 'in') emu.frontEnd.paperIn();
  else if (what === 'out') emu.frontEnd.paperOutNow();
  else throw new Error('paper in|out');
  return `paper ${what} submode ${emu.frontEnd.submode}`;
}

function injectError(emu: Emulator, [code, command, n]: string[]): string {
  if (code === undefined) throw new Error('fault error CODE [COMMAND] [N]');
  const err = hex(code);
  const cmd = command === undefined || command === '*' || command === 'any' ? undefined : hex(command);
  emu.frontEnd.injectError({ code: err, count: count(n), ...(cmd === undefined ? {} : { command: cmd }) });
  return `error 0x${err.toString(16).padStart(2, '0')}${cmd === undefined ? '' : ` on ${cmd.toString(16)}`} ×${count(n)}`;
}

function status(emu: Emulator): string {
  const j = emu.journal;
  const q = j.ofdQueue();
  return [
    `mode ${emu.frontEnd.mode & 0x0f}/${emu.frontEnd.mode >> 4}`, `submode ${emu.frontEnd.submode}`,
    `shift ${j.shift.number}${j.shift.open ? ' open' : ' closed'}`, `lastFd ${j.lastFd}`, `receiptNo ${j.shift.receiptNo}`,
    `ofdUnsent ${q.count}`, `clock ${formatLocal(emu.clock.localMs())}`, `faults ${emu.faults.describe()}`,
  ].join(' ');
}

function count(word: string | undefined): number {
  if (word === undefined) return 1;
  const n = Number(word);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`bad number ${word}`);
  return n;
}

function hex(word: string): number {
  const n = parseInt(word.replace(/^0x/, ''), 16);
  if (!Number.isFinite(n) || n < 0 || n > 0xffff) throw new Error(`bad hex ${word}`);
  return n;
}

function onOff(word: string | undefined): boolean {
  if (word === 'on' || word === undefined) return true;
  if (word === 'off') return false;
  throw new Error('on|off');
}
