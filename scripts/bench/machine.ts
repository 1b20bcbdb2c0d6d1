/** What the figures were measured on: printed above the table. */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function version(cmd: string, args: string[], pattern: RegExp): string {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return pattern.exec(out)?.[1] ?? '?';
  } catch (err) {
    // mosquitto -h exits 3 after printing its version
    const out = String((err as { stdout?: string }).stdout ?? '');
    return pattern.exec(out)?.[1] ?? '?';
  }
}

/** the file system of a directory (`df` style), e.g. "ext4 on /dev/vda" */
function fileSystem(dir: string): string {
  const mounts = read('/proc/self/mounts')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f.length >= 3 && dir.startsWith(f[1]!))
    .sort((a, b) => b[1]!.length - a[1]!.length);
  const m = mounts[0];
  return m ? `${m[2]} on ${m[0]}` : '?';
}

/** the commit measured, and the gateway's files changed since it (the figures are of the working tree) */
function code(): string {
  const root = join(import.meta.dirname, '..', '..');
  try {
    const git = (...args: string[]): string => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const commit = git('log', '-1', '--format=%h %cs').trim();
    const changed = git('status', '--porcelain', '--', 'src', 'drivers', 'bin', 'package-lock.json')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return `commit ${commit}${changed.length ? `, with uncommitted changes in ${changed.join(', ')}` : ''}`;
  } catch {
    return 'not a git checkout';
  }
}

export function machineDescription(): string[] {
  const cpus = os.cpus();
  const model = (/^model name\s*:\s*(.+)$/m.exec(read('/proc/cpuinfo'))?.[1] ?? cpus[0]?.model ?? '?').trim();
  const hypervisor = /^flags\s*:.*\bhypervisor\b/m.test(read('/proc/cpuinfo')) ? ', virtual machine' : '';
  const osName = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(read('/etc/os-release'))?.[1] ?? os.platform();
  return [
    `- CPU: ${model}, ${cpus.length} cores (${os.arch()}${hypervisor})`,
    `- RAM: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: ${osName}, kernel ${os.release()}`,
    `- Node.js ${process.version}, mosquitto ${version('mosquitto', ['-h'], /mosquitto version (\S+)/)}, socat ${version('socat', ['-V'], /socat version (\S+)/)}`,
    `- disk (temp dirs: LevelDB, broker): ${fileSystem(os.tmpdir())} (${os.tmpdir()})`,
    `- code: ${code()}`,
  ];
}
