/** Real MQTT brokers for tests: mosquitto (from apt) as a child process, or aedes in-process, on loopback TCP. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import * as net from 'node:net';

export interface TestBroker {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** restart on the same port (mosquitto keeps its persistence file when persistence is on) */
  restart?(): Promise<void>;
}

/** ports this process was given: a port just freed can be handed out again at once, and two servers would share it */
const handedOut = new Set<number>();

/** a free TCP port on 127.0.0.1, never one given before to this process */
export async function freePort(): Promise<number> {
  for (;;) {
    const s = createServer();
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** n different free ports */
export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  return ports;
}

async function waitForPort(port: number, ms = 10_000, exited?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    const why = exited?.();
    if (why !== undefined || Date.now() > deadline) throw new Error(`broker did not listen on ${port}${why ? `: ${why}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface MosquittoOptions {
  persistence?: boolean;
  /** more listeners and settings, appended */
  extraConfig?: string;
  /** `per_listener_settings true` (each listener its own auth) */
  perListenerSettings?: boolean;
}

const brokerDirs = new Set<string>();
process.once('exit', () => {
  for (const d of brokerDirs) rmSync(d, { recursive: true, force: true });
});

/** mosquitto with max_queued_messages raised (its default of 1000 silently drops QoS 1 bursts). */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<TestBroker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kkt-mosq-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      ...(opts.perListenerSettings ? ['per_listener_settings true'] : []),
      // started as root, mosquitto would drop to its own user and could not read the test's temp files
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'max_queued_messages 1000000',
      'max_inflight_messages 100',
      `persistence ${opts.persistence ? 'true' : 'false'}`,
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      opts.extraConfig ?? '',
    ].join('\n') + '\n',
  );
  let child: ChildProcess;
  const launch = async (): Promise<void> => {
    child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    await waitForPort(port, 10_000, () => (child.exitCode !== null ? `mosquitto exited ${child.exitCode}: ${err}` : undefined));
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  // stop() may be followed by restart(): the directory (config, persistence) goes when the test process exits
  brokerDirs.add(dir);
  await launch();
  return { url: `mqtt://127.0.0.1:${port}`, port, stop, restart: async () => (await stop(), await launch()) };
}

/** aedes, embedded (MQTT 3.1.1 only). */
export async function startAedes(): Promise<TestBroker> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle as (s: net.Socket) => void);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
