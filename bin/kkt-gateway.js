#!/usr/bin/env node
// Runs the TypeScript sources through tsx (no build step on the Raspberry Pi), after checking that this Node.js
// satisfies package.json's engines field (one line, not a stack trace from deep inside tsx, when it does not).
import { nodeTooOld } from '../scripts/tools.mjs';

const old = nodeTooOld('kkt-gateway');
if (old) {
  process.stderr.write(`${old}\n`);
  process.exitCode = 1;
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
