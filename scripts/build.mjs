#!/usr/bin/env node
// Production build: bundles src/main.ts (and drivers/) into dist/kkt-gateway.mjs with esbuild, npm packages left
// external, and copies the web page's files to dist/public. The service then starts without compiling TypeScript
// at run time (tsx): less memory and a faster start on a Raspberry Pi. Run by scripts/install.sh; `npm run build`.
import { build } from 'esbuild';
import { chmodSync, cpSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const out = values.outdir ? resolve(values.outdir) : join(root, 'dist');
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src', 'main.ts')],
  outfile: join(out, 'kkt-gateway.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: '#!/usr/bin/env node' },
});
// the store client library (package.json "exports" "./client.mjs"): plain JavaScript for stores without tsx
await build({
  entryPoints: [join(root, 'src', 'client', 'index.ts')],
  outfile: join(out, 'client.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
cpSync(join(root, 'src', 'web', 'public'), join(out, 'public'), { recursive: true });
chmodSync(join(out, 'kkt-gateway.mjs'), 0o755);
process.stdout.write(`built ${join(out, 'kkt-gateway.mjs')}\n`);
