#!/usr/bin/env node
// Runs the TypeScript emulator CLI through tsx, after checking that this Node.js satisfies package.json's engines
// field (one line, not a stack trace from deep inside tsx, when it does not).
import { nodeTooOld } from '../scripts/tools.mjs';

const old = nodeTooOld('kkt-emulator');
if (old) {
  process.stderr.write(`${old}\n`);
  process.exitCode = 1;
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../drivers/emulator/cli.ts');
}
