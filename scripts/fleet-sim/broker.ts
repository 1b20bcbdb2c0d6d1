/** One mosquitto for the simulation: loopback, a free port, persistence off, limits raised for N clients. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/broker.ts';
import * as net from 'node:net';
import { openFilesLimit } from './procstat.ts';

export interface SimBroker {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startBroker(maxConnections: number): Promise<SimBroker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kkt-fleet-sim-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      `max_connections ${maxConnections}`,
      'max_queued_messages 1000000',
      'max_inflight_messages 100',
      'persistence false',
      'log_dest none',
    ].join('\n') + '\n',
  );
  // mosquitto takes one descriptor per client: raise its soft limit to the hard one (no root needed)
  const child: ChildProcess = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec mosquitto -c "$0"', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`mosquitto did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // `sh -c … exec mosquitto`: the pid is mosquitto's; its open-files limit must cover every client
  const limit = openFilesLimit(child.pid!);
  if (limit < maxConnections) {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mosquitto may open only ${limit} files, fewer than ${maxConnections} connections: raise the hard limit (ulimit -Hn, or LimitNOFILE in systemd)`);
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
