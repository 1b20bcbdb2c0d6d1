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
import { readJournal } from './journal.ts';
import { createPty, type Pty } from './pty.ts';
import { exitAfterDrain } from '../../src/system/exit.ts';

const USAGE = `usage: kkt-emulator [--protocol shtrih|atol] (--pty [--link PATH] | --tcp PORT) [--journal FILE] [--baud N] [--print-ms N]
                    [--control PORT] [--clock-offset DURATION] [--no-extended-answers] [--verbose]
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

  const log = values.verbose ? (e: string): void => void process.stderr.write(`[emulator] ${e}\n`) : undefined;
  const emu = new Emulator({
    protocol,
    ...(values.journal ? { journalPath: values.journal } : {}),
    clock: { offsetMs: values['clock-offset'] ? parseDuration(values['clock-offset']) : 0 },
    device: { extendedFdAnswers: !values['no-extended-answers'] },
    link: { baud: Number(values.baud ?? 0), printMs: Number(values['print-ms'] ?? 0), ...(log ? { log } : {}) },
  });
  const closers: Array<() => Promise<void> | void> = [() => emu.close()];

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
