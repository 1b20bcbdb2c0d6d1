#!/usr/bin/env node
/**
 * The first step of `npm test`: is everything the tests need on this machine (scripts/tools.mjs)? If not, stops at
 * once with the list and the one command that installs it all, instead of failing test by test minutes later.
 * Silent when all is there. `npm run setup` installs what is missing.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { installCommand, missingTools, nodeTooOld } from './tools.mjs';

const root = new URL('..', import.meta.url).pathname;
const problems = [];
const old = nodeTooOld('npm test');
if (old) problems.push(old);

const missing = missingTools();
if (missing.length) {
  const width = Math.max(...missing.map((t) => t.name.length));
  problems.push(
    `npm test needs ${missing.length === 1 ? 'a tool that is' : 'tools that are'} not installed:`,
    ...missing.map((t) => `  ${t.name.padEnd(width)}  (apt ${t.apt}) for ${t.neededBy}${sbinHint(t.name)}`),
    `Install ${missing.length === 1 ? 'it' : 'them'}: ${installCommand(missing.map((t) => t.apt))}   (or: npm run setup)`,
  );
}

if (!existsSync(join(root, 'node_modules', '.bin', 'tsc'))) {
  problems.push('the npm packages are not installed: run npm ci (or npm run setup)');
} else if (!missing.some((t) => ['make', 'g++', 'python3'].includes(t.name)) && !loads('unix-dgram')) {
  problems.push('unix-dgram (sd_notify, an optional dependency) was not built, the build tools were missing at npm ci: run npm ci again (or npm run setup)');
}

if (problems.length) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exitCode = 1;
}

/** a command from sbin that a user's PATH may lack: installed, only not found */
function sbinHint(name) {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/local/sbin']) {
    if (existsSync(join(dir, name))) return ` — it is in ${dir}, which is not on PATH`;
  }
  return '';
}

function loads(pkg) {
  try {
    createRequire(join(root, 'package.json'))(pkg);
    return true;
  } catch {
    return false;
  }
}
