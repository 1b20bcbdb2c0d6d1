#!/usr/bin/env node
// Production build: bundles src/main.ts (and drivers/) into dist/kkt-gateway.mjs with esbuild, npm packages left
// external, and copies the web page's files to dist/public. The service then starts without compiling TypeScript
// at run time (tsx): less memory and a faster start on a Raspberry Pi. Run by scripts/install.sh; `npm run build`.
import { build } from 'esbuild';
import { chmodSync, cpSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const out = values.outdir ? resolve(values.outdir) : join(root, 'dist');
rmSync(out, { recursive: true, force: true });
// The service's runtime settings, in the bundle's first line (the systemd unit and the CLI links run the file itself;
// `env -S` sets the variables and starts node with the options; the bench starts the bundle with both). Issue 17, P4
// (docs/performance.md, "2026-12-04: the runtime settings"):
// - young-generation semi-spaces of 1 MB instead of V8's up to 16 MB on a 64-bit machine. The gateway allocates little
//   per receipt and keeps what lives long in LevelDB, so scavenges stay short; idle memory drops by ~10 MB and a
//   start with 100,000 queued by ~30 MB.
// - the old generation collected once it has grown by its minimum step (8 MB) past what survived the last full
//   collection, not by V8's factor of up to 4× on a machine with much RAM: while it prints, what a receipt keeps for a
//   few milliseconds is promoted and dies there, and the old space grew from 19 to 40 MB before its first collection.
//   It costs about 0.2 ms of main-thread CPU per receipt (more major collections).
// - glibc's malloc with 2 arenas instead of 8 per core: LevelDB's batches run on libuv's pool threads, each of which
//   kept an arena of its own.
// Each of the last two alone took ~12 MB off the RSS while printing a queue of 100,000, the two together ~25 MB.
const NODE_ENV = ['MALLOC_ARENA_MAX=2'];
const NODE_FLAGS = ['--max-semi-space-size=1', '--heap-growing-percent=10'];
// Split at the dynamic imports (the demo, the fleet monitor, …): what only one command uses, and the packages only it
// imports (aedes, prom-client), are loaded when that command runs, not by every `run` (issue 17: idle memory).
await build({
  entryPoints: { 'kkt-gateway': join(root, 'src', 'main.ts') },
  outdir: out,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  // beside the entry: the modules that find the page's files next to themselves (import.meta.url) stay in dist/
  chunkNames: '[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: `#!/usr/bin/env -S ${[...NODE_ENV, 'node', ...NODE_FLAGS].join(' ')}` },
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
// its declarations (dist/types/…/index.d.ts, the "types" of "./client.mjs"), when TypeScript is installed: it is a
// dev dependency, absent from the production install (npm ci --omit=dev), which needs no types
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  process.stdout.write('typescript not installed: dist/types (the client\'s declarations) skipped\n');
}
if (tsc) {
  const cfg = join(out, 'tsconfig.client-types.json');
  writeFileSync(cfg, JSON.stringify({
    extends: join(root, 'tsconfig.json'),
    compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true, outDir: join(out, 'types'), rootDir: root, typeRoots: [join(root, 'node_modules', '@types')] },
    include: [],
    files: [join(root, 'src', 'client', 'index.ts')],
  }));
  const r = spawnSync(process.execPath, [tsc, '-p', cfg], { encoding: 'utf8' });
  rmSync(cfg, { force: true });
  if (r.status !== 0) throw new Error(`client declarations: ${r.stdout}${r.stderr}`);
}
cpSync(join(root, 'src', 'web', 'public'), join(out, 'public'), { recursive: true });
// the fleet monitor's page (`kkt-gateway fleet`, src/fleet/server.ts looks for it there in the bundle)
cpSync(join(root, 'src', 'fleet', 'public'), join(out, 'fleet-public'), { recursive: true });
chmodSync(join(out, 'kkt-gateway.mjs'), 0o755);
process.stdout.write(`built ${join(out, 'kkt-gateway.mjs')}\n`);
