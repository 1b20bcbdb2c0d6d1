/**
 * How a store loads the client: `kkt-gateway/client` from plain JavaScript through tsx, and the built
 * dist/client.mjs (scripts/build.mjs) with plain node, both against a real gateway; and the client's import graph
 * holds nothing of the gateway's server side (LevelDB, serialport).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { makeRig } from '../helpers/rig.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const fixture = (name: string): string => join(root, 'test/client/fixtures', name);
const SERVER_ONLY = /^(level|classic-level|serialport|@serialport\/.*|usb|fastify|@fastify\/.*|pino|aedes)$/;

t.test('importing the client loads no server-only package (the gateway itself does: the probe can tell)', async (t) => {
  const probe = async (spec: string): Promise<string[]> => JSON.parse((await run(process.execPath, ['--import=tsx', fixture('loaded-packages.mjs'), spec], { cwd: root })).stdout);
  const client = await probe('./src/client/index.ts');
  t.same(client.filter((n) => SERVER_ONLY.test(n)), [], `the client loaded ${JSON.stringify(client)}`);
  t.ok(client.includes('mqtt'), 'mqtt is loaded');
  const gateway = await probe('./src/app.ts');
  t.ok(gateway.includes('classic-level'), `the gateway loads LevelDB (${JSON.stringify(gateway)})`);
});

t.test('the client\'s static import graph: its own files, mqtt and node built-ins only', async (t) => {
  const res = await build({ entryPoints: [join(root, 'src/client/index.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', write: false, metafile: true, logLevel: 'silent' });
  const inputs = Object.keys(res.metafile.inputs).map((f) => relative(root, resolve(root, f)));
  t.same(inputs.filter((f) => !f.startsWith('src/client/')), [], `bundled files: ${inputs.join(', ')}`);
  const externals = new Set(Object.values(res.metafile.inputs).flatMap((i) => i.imports.filter((m) => m.external).map((m) => m.path)));
  t.same([...externals].filter((p) => p !== 'mqtt' && !p.startsWith('node:')), [], `imports: ${[...externals].join(', ')}`);
});

t.test('plain JavaScript: kkt-gateway/client through tsx, and the built dist/client.mjs with plain node, talk to a real gateway', async (t) => {
  const rig = await makeRig();
  t.teardown(() => rig.close());
  await rig.startGateway();
  const expected = { loaded: true, badInput: 'BAD_INPUT', status: 'ok' };

  const viaTsx = await run(process.execPath, ['--import=tsx', fixture('plain-consumer.mjs'), 'kkt-gateway/client', rig.broker.url, 'test'], { cwd: root });
  t.same(JSON.parse(viaTsx.stdout), expected, 'import { connectClient } from "kkt-gateway/client" (node --import=tsx)');

  const noTsx = await run(process.execPath, [fixture('plain-consumer.mjs'), 'kkt-gateway/client'], { cwd: root }).then(
    () => 'loaded',
    (err: { stderr: string }) => err.stderr,
  );
  t.match(noTsx, /\.ts|ERR_UNKNOWN_FILE_EXTENSION/, 'without tsx the TypeScript entry does not load: that is what client.mjs is for');

  // the production build, into a directory under node_modules so that `mqtt` resolves as for an installed package
  const out = join(root, 'node_modules/.cache', `kkt-client-build-${process.pid}`);
  mkdirSync(out, { recursive: true });
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  await run(process.execPath, [join(root, 'scripts/build.mjs'), '--outdir', out], { cwd: root });
  const built = await run(process.execPath, [fixture('plain-consumer.mjs'), join(out, 'client.mjs'), rig.broker.url, 'test'], { cwd: root });
  t.same(JSON.parse(built.stdout), expected, 'dist/client.mjs with plain node (no tsx)');

  // a TypeScript store project (strict, no allowImportingTsExtensions, lib checks on) against the built declarations
  const consumer = join(out, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), '{"type":"module"}\n');
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(root, 'node_modules/@types')] }, include: ['store.ts'] }));
  const store = (body: string): void => writeFileSync(join(consumer, 'store.ts'), `import { connectClient, KktClientError, type FinalResult, type ReceiptRequest } from '../types/src/client/index.js';\n${body}\n`);
  const tsc = (): Promise<string> => run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', consumer], { cwd: consumer }).then(() => '', (e: { stdout: string }) => e.stdout);
  store(`const c = await connectClient({ url: 'mqtt://x', sharedGroup: 'g' });
const req: ReceiptRequest = { operation: 'sell', external_id: 'a', timestamp: '01.01.2026 00:00:00' };
const r: FinalResult = await c.submit('gw', req, { onAccepted: (a) => a.external_id });
const fd: number | undefined = r.payload?.fiscal_document_number;
const code: string | undefined = r.error?.code;
const e = new KktClientError('TIMEOUT', 'x');
console.log(fd, code, e.code, (await c.command('gw', 'status')).status);`);
  t.equal(await tsc(), '', 'a TypeScript consumer type-checks against dist/types');
  store(`const c = await connectClient({ url: 'mqtt://x' });\nconst n: number = (await c.submit('gw', {})).status;`);
  t.match(await tsc(), /TS2322/, 'and the types are real: a result status is not a number');

  const resolved = await run(process.execPath, ['--input-type=module', '-e', "process.stdout.write(import.meta.resolve('kkt-gateway/client.mjs'))"], { cwd: root });
  t.equal(relative(root, new URL(resolved.stdout).pathname), 'dist/client.mjs', '"kkt-gateway/client.mjs" names the built file');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
  t.equal(pkg.exports['./client.mjs']?.types, './dist/types/src/client/index.d.ts', 'its "types" are the built declarations');
  t.ok(existsSync(join(out, 'types/src/client/index.d.ts')), 'which the build writes');
});
