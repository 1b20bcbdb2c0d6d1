#!/usr/bin/env node
// Runs the TypeScript emulator CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../drivers/emulator/cli.ts');
