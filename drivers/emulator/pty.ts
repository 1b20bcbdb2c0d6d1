/**
 * A pseudo-terminal for the emulator, made by socat: the host opens `path` like a serial port; the emulator
 * reads and writes `stream` (socat's stdio). Raw mode, no echo: bytes 0x00–0xFF pass unchanged both ways.
 * Closing it and creating a new one simulates a USB replug (with a `link`, the link is removed first). Without socat it rejects with a MissingToolError (one
 * line: the tool, what needs it, the apt-get command); the emulator over TCP needs no external tool.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { MissingToolError } from '../../scripts/tools.mjs';

export interface Pty {
  /** the slave device (or the `link` symlink when one was asked for) */
  path: string;
  /** the real /dev/pts/N */
  device: string;
  stream: Duplex;
  close(): Promise<void>;
}

export interface PtyOptions {
  /** a stable symlink to the pty, like /dev/serial/by-id/… */
  link?: string;
  /** socat binary; default 'socat' */
  socat?: string;
  /** give up waiting for socat after this, ms; default 5000 */
  timeoutMs?: number;
}

export async function createPty(opts: PtyOptions = {}): Promise<Pty> {
  const address = ['PTY', 'rawer', 'echo=0', ...(opts.link ? [`link=${opts.link}`] : [])].join(',');
  const socat = opts.socat ?? 'socat';
  const child = spawn(socat, ['-d', '-d', '-b', '4096', address, 'STDIO'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const device = await ptyName(child, opts.timeoutMs ?? 5000).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' && e.syscall?.startsWith('spawn')) throw new MissingToolError('socat', 'the emulator on a pseudo-terminal (kkt-emulator --pty)');
    throw e;
  });
  const stream = Duplex.from({ readable: child.stdout!, writable: child.stdin! });
  stream.on('error', () => {}); // socat going away is a replug, not a crash
  return { path: opts.link ?? device, device, stream, close: () => stop(child, stream, opts.link) };
}

function ptyName(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => fail(new Error(`socat gave no PTY within ${timeoutMs} ms: ${text}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const m = /PTY is (\S+)/.exec(text);
      if (m && /starting data transfer loop/.test(text)) done(() => resolve(m[1]!));
    };
    const onExit = (code: number | null): void => fail(new Error(`socat exited (${code}): ${text}`));
    const fail = (e: Error): void => done(() => reject(e));
    const done = (f: () => void): void => {
      clearTimeout(timer);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
      child.off('error', fail);
      child.stderr!.resume();
      f();
    };
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', fail);
  });
}

/**
 * The link goes first, as udev removes a by-id link at the unplug: whoever reopens the link then finds nothing, never
 * the next pseudo-terminal that the kernel gives the freed /dev/pts number to.
 */
function stop(child: ChildProcess, stream: Duplex, link: string | undefined): Promise<void> {
  if (link) rmSync(link, { force: true });
  return new Promise((resolve) => {
    stream.destroy();
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
