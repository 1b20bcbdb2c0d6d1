/**
 * The production bundle (scripts/build.mjs → dist/kkt-gateway.mjs, what the systemd unit runs): built here into a
 * temp directory, it fiscalizes the demo receipt end to end and serves the web page's files from dist/public.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, symlinkSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePorts } from '../helpers/broker.ts';
import { ROOT } from '../helpers/gateway-process.ts';
import { call, type Answer } from '../helpers/web-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'kkt-bundle-'));
const bundle = join(dir, 'dist', 'kkt-gateway.mjs');
// the bundle runs without tap's loaders (a plain node, as under systemd)
const env = { ...process.env, NODE_OPTIONS: '' };

t.before(() => {
  // laid out like /opt/kkt-gateway: dist/ beside node_modules/
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const b = spawnSync(process.execPath, ['scripts/build.mjs', '--outdir', join(dir, 'dist')], { cwd: ROOT, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(b.stderr);
});

t.test('the bundle runs the demo: a receipt fiscalized', async (t) => {
  t.ok(existsSync(bundle));
  t.ok(existsSync(join(dir, 'dist', 'public', 'app.js')), 'the page ships with it');
  const r = spawnSync(process.execPath, [bundle, 'demo', '--once'], { cwd: dir, encoding: 'utf8', env, timeout: 60_000 });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /"status":"done"/);
});

t.test('the bundle serves the page over HTTPS with its own certificate (safe mode without a configuration)', async (t) => {
  const [port, httpsPort] = (await freePorts(2)) as [number, number];
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({ data_dir: join(dir, 'data'), web: { host: '127.0.0.1', port, https_port: httpsPort } }));
  // run as the systemd unit's ExecStart runs it: the file itself, its first line choosing node and V8's options
  const first = /^#!\/usr\/bin\/env -S (.+?) node (.+)$/.exec(readFileSync(bundle, 'utf8').split('\n', 1)[0]!);
  const flags = first?.[2]?.split(' ') ?? [];
  t.ok(flags.includes('--max-semi-space-size=1') && flags.includes('--heap-growing-percent=10'), `the first line gives node its options (${flags.join(' ')})`);
  t.same(first?.[1]?.split(' '), ['MALLOC_ARENA_MAX=2'], 'and sets its environment');
  const child = spawn(bundle, ['run', '--config', cfg], { cwd: dir, env: { ...env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` }, stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  let page: Answer | undefined;
  for (let i = 0; i < 200 && !page; i++) {
    page = await call(`https://127.0.0.1:${httpsPort}/app.js`).catch(() => undefined);
    if (!page) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(page?.status, 200);
  t.match(page?.body, /kkt-gateway local web page/);
  t.ok(existsSync(join(dir, 'data', 'web-tls.crt')), 'the self-signed certificate was made in the data directory');
  // the redirect listens right after the page
  let plain: Answer | undefined;
  for (let i = 0; i < 100 && !plain; i++) {
    plain = await call(`http://127.0.0.1:${port}/app.js`).catch(() => undefined);
    if (!plain) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(plain?.status, 308, 'plain HTTP redirects');
  t.equal(plain?.headers.location, `https://127.0.0.1:${httpsPort}/app.js`);
  const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
  t.same(argv.slice(1, 1 + flags.length), flags, 'node runs the service under those options');
  t.ok(readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0').includes('MALLOC_ARENA_MAX=2'), 'with that environment');
  child.kill('SIGTERM');
  t.same((await once(child, 'exit'))[0], 0);
});

