/** The real gateway as a child process (`node bin/kkt-gateway.js run`) with a config file written from a rig config. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Config } from '../../src/config/index.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
}

export function startGatewayProcess(config: Config, dir: string, env: NodeJS.ProcessEnv = {}): GatewayProcess {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'kkt-gateway.js'), 'run', '--config', file], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(child, 'exit').then(([code, sig]) => (code ?? sig) as number | string);
  return { child, pid: child.pid!, output: () => out, exited };
}
