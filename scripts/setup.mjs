#!/usr/bin/env node
/**
 * `npm run setup`: makes this machine ready for `npm test` — installs the Debian packages of scripts/tools.mjs that
 * are missing (apt-get as root; anyone else gets the `sudo apt-get install …` line to run), then `npm ci`.
 * Non-interactive (CI=true, no stdin): .ci/run uses it on a clean Debian machine. Exit 0 only when all is there.
 */
import { spawnSync } from 'node:child_process';
import { installCommand, missingTools, nodeTooOld, which } from './tools.mjs';

const say = (s) => process.stderr.write(`setup: ${s}\n`);

function run(cmd, args, env = process.env) {
  say(`${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.error) say(`${cmd} could not start: ${r.error.message}`);
  return r.status === 0;
}

function main() {
  const old = nodeTooOld('npm run setup');
  if (old) {
    process.stderr.write(`${old}\n`);
    return 1;
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const missing = missingTools();
  const packages = [...new Set(missing.map((t) => t.apt))];
  let toolsOk = true;
  if (packages.length === 0) {
    say('every tool the tests need is installed');
  } else if (root && which('apt-get')) {
    say(`installing ${packages.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!run('apt-get', ['update', '-qq'], env) || !run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], env)) {
      say(`apt-get failed; install them by hand: ${installCommand(packages, true)}`);
      return 1;
    }
  } else {
    toolsOk = false;
    say(`missing: ${missing.map((t) => t.name).join(', ')}. Install them (then run npm run setup again, so that npm ci builds unix-dgram):`);
    process.stderr.write(`  ${installCommand(packages, root)}\n`);
  }

  // npm ci: through the npm that runs this script when there is one (npm run setup), else npm from PATH
  const npm = process.env.npm_execpath;
  const ok = npm && /\.[cm]?js$/.test(npm) ? run(process.execPath, [npm, 'ci', '--no-audit', '--no-fund']) : run('npm', ['ci', '--no-audit', '--no-fund']);
  if (!ok) {
    say('npm ci failed');
    return 1;
  }
  const still = missingTools();
  if (still.length) {
    if (toolsOk) say(`still missing after apt-get: ${still.map((t) => t.name).join(', ')}`);
    return 1;
  }
  say('ready: npm test');
  return 0;
}

process.exitCode = main();
