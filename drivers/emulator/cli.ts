/**
 * kkt-emulator: a Shtrih-M register on a pseudo-terminal or TCP port.
 *
 *   kkt-emulator --pty [--link PATH] [--journal FILE] [--baud N] [--print-ms N] [--control PORT]
 *   kkt-emulator --tcp PORT [...]
 *   kkt-emulator --journal FILE --dump
 *
 * First stdout line: "PTY <path>" (or "TCP 127.0.0.1:<port>"). Control lines on stdin (and on --control PORT),
 * each answered "OK …" / "ERR …" on one line. Serves until SIGINT/SIGTERM.
 */
import net from 'node:net';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { parseDuration } from './clock.ts';
import { runControl, HELP } from './control.ts';
import { Emulator } from './emulator.ts';
import { MODE_BITS, readJournal, TAX_SYSTEM_BITS, type JournalIdentity } from './journal.ts';
import { isValidInn } from '../../src/fiscal/rules.ts';
import { createPty, type Pty } from './pty.ts';
import { exitAfterDrain } from '../../src/system/exit.ts';

const USAGE = `usage: kkt-emulator [--protocol shtrih|atol] (--pty [--link PATH] | --tcp PORT) [--journal FILE] [--baud N] [--print-ms N]
                    [--control PORT] [--clock-offset DURATION] [--no-extended-answers] [--verbose]
                    [--inn INN] [--rn RNM] [--tax-systems osn,usn_income,…] [--ffd 1.05|1.2]
                    [--modes encryption,internet,…|none] [--ofd-inn INN]   (identity of a NEW journal only)
       kkt-emulator --journal FILE --dump
control lines: ${HELP}`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: defaultTcpPort(process.argv.slice(2)),
    options: {
      protocol: { type: 'string' },
      pty: { type: 'boolean' },
      link: { type: 'string' },
      tcp: { type: 'string' },
      journal: { type: 'string' },
      baud: { type: 'string' },
      'print-ms': { type: 'string' },
      control: { type: 'string' },
      'clock-offset': { type: 'string' },
      'no-extended-answers': { type: 'boolean' },
      dump: { type: 'boolean' },
      inn: { type: 'string' },
      rn: { type: 'string' },
      'tax-systems': { type: 'string' },
      ffd: { type: 'string' },
      modes: { type: 'string' },
      'ofd-inn': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return usage(0);
  if (values.dump) {
    if (!values.journal) return usage(2);
    process.stdout.write(JSON.stringify(readJournal(values.journal), null, 2) + '\n');
    return 0;
  }
  if (!values.pty && !values.tcp) return usage(2);
  const protocol = values.protocol ?? 'shtrih';
  if (protocol !== 'shtrih' && protocol !== 'atol') return usage(2);
  if (values.tcp === TCP_DEFAULT) values.tcp = protocol === 'atol' ? '5555' : undefined;
  if (!values.pty && !values.tcp) return usage(2);

  const identity = identityFromFlags(values);
  if (typeof identity === 'string') {
    process.stderr.write(`kkt-emulator: ${identity}\n`);
    return 2;
  }
  const log = values.verbose ? (e: string): void => void process.stderr.write(`[emulator] ${e}\n`) : undefined;
  const emu = new Emulator({
    protocol,
    ...(values.journal ? { journalPath: values.journal } : {}),
    identity,
    clock: { offsetMs: values['clock-offset'] ? parseDuration(values['clock-offset']) : 0 },
    device: { extendedFdAnswers: !values['no-extended-answers'] },
    link: { baud: Number(values.baud ?? 0), printMs: Number(values['print-ms'] ?? 0), ...(log ? { log } : {}) },
  });
  const closers: Array<() => Promise<void> | void> = [() => emu.close()];
  const kept = (Object.keys(identity) as Array<keyof JournalIdentity>).filter((k) => emu.journal.identity[k] !== identity[k]);
  if (kept.length) process.stderr.write(`[emulator] the journal keeps its stored identity (${kept.join(', ')} not changed)\n`);

  if (values.pty) {
    const pty = await createPty(values.link ? { link: values.link } : {});
    emu.attach(pty.stream);
    closers.unshift(() => pty.close());
    watchPty(pty);
    process.stdout.write(`PTY ${pty.path}\n`);
  } else {
    const server = await listen(Number(values.tcp), (socket) => emu.attach(socket, { fillerAfterAck: true }));
    closers.unshift(() => new Promise<void>((r) => server.close(() => r())));
    process.stdout.write(`TCP 127.0.0.1:${(server.address() as net.AddressInfo).port}\n`);
  }
  if (values.control) {
    const server = await listen(Number(values.control), (socket) => serveLines(emu, socket, socket));
    closers.unshift(() => new Promise<void>((r) => server.close(() => r())));
    process.stdout.write(`CONTROL 127.0.0.1:${(server.address() as net.AddressInfo).port}\n`);
  }
  serveLines(emu, process.stdin, process.stdout);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  for (const close of closers) await close();
  return 0;
}

/** --inn/--rn/--tax-systems/--ffd/--modes/--ofd-inn → identity of a new FN, or an error message */
function identityFromFlags(v: Record<string, string | boolean | undefined>): Partial<JournalIdentity> | string {
  const out: Partial<JournalIdentity> = {};
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const inn = str('inn');
  if (inn !== undefined) {
    if (!/^\d{10}$|^\d{12}$/.test(inn)) return `--inn ${inn}: 10 or 12 digits`;
    if (!isValidInn(inn)) process.stderr.write(`[emulator] warning: --inn ${inn} fails the INN checksum\n`);
    out.inn = inn;
  }
  const rn = str('rn');
  if (rn !== undefined) {
    if (!/^\d{1,20}$/.test(rn)) return `--rn ${rn}: up to 20 digits (16 usual)`;
    out.registrationNumber = rn;
  }
  const taxes = str('tax-systems');
  if (taxes !== undefined) {
    let bits = 0;
    for (const name of taxes.split(',').map((w) => w.trim()).filter(Boolean)) {
      const bit = TAX_SYSTEM_BITS[name];
      if (bit === undefined) return `--tax-systems: unknown ${name} (${Object.keys(TAX_SYSTEM_BITS).join(', ')})`;
      bits |= bit;
    }
    if (!bits) return '--tax-systems: at least one';
    out.taxSystems = bits;
  }
  const ffd = str('ffd');
  if (ffd !== undefined) {
    if (ffd !== '1.05' && ffd !== '1.2') return `--ffd ${ffd}: 1.05 or 1.2`;
    out.ffd = ffd;
  }
  const modes = str('modes');
  if (modes !== undefined) {
    let bits = 0;
    for (const name of modes.split(',').map((w) => w.trim()).filter((w) => w && w !== 'none')) {
      const bit = MODE_BITS[name];
      if (bit === undefined) return `--modes: unknown ${name} (${Object.keys(MODE_BITS).join(', ')}, none)`;
      bits |= bit;
    }
    out.modes = bits;
  }
  const ofdInn = str('ofd-inn');
  if (ofdInn !== undefined) {
    if (!/^\d{10}$|^\d{12}$/.test(ofdInn)) return `--ofd-inn ${ofdInn}: 10 or 12 digits`;
    out.ofdInn = ofdInn;
  }
  return out;
}

/** `--tcp` without a port (ATOL: 5555) */
const TCP_DEFAULT = '\u0000default';
function defaultTcpPort(args: string[]): string[] {
  return args.flatMap((a, i) => (a === '--tcp' && (i + 1 >= args.length || args[i + 1]!.startsWith('--')) ? [a, TCP_DEFAULT] : [a]));
}

function usage(code: number): number {
  (code ? process.stderr : process.stdout).write(USAGE + '\n');
  return code;
}

function watchPty(pty: Pty): void {
  pty.stream.once('close', () => process.stderr.write(`[emulator] socat for ${pty.path} went away\n`));
}

function listen(port: number, onSocket: (s: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      onSocket(socket);
    });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function serveLines(emu: Emulator, input: Readable, output: Writable): void {
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (line.trim()) output.write(runControl(emu, line) + '\n');
  });
}

// exits once stdout and stderr are drained (a --dump through a pipe arrives whole); a missing socat is one line
main().then(
  (code) => exitAfterDrain(code),
  (e: unknown) => {
    process.stderr.write(`kkt-emulator: ${(e as Error).message}\n`);
    return exitAfterDrain(1);
  },
);
