/** Packaging checks run by `npm test`: shellcheck, install.sh dry runs, the unit verified by systemd-analyze. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/gateway-process.ts';

const sh = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });

t.test('shellcheck passes on scripts/*.sh', async (t) => {
  const scripts = readdirSync(join(ROOT, 'scripts')).filter((f) => f.endsWith('.sh')).map((f) => join('scripts', f));
  const r = sh('shellcheck', scripts);
  t.equal(r.status, 0, r.stdout + r.stderr);
});

t.test('install.sh --dry-run --prefix prints the plan and touches nothing', async (t) => {
  const root = join(mkdtempSync(join(tmpdir(), 'kkt-inst-')), 'root');
  const r = sh('bash', ['scripts/install.sh', '--dry-run', '--prefix', root]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, `install -m 0644 ${ROOT}/systemd/kkt-gateway.service ${root}/etc/systemd/system/kkt-gateway.service`);
  t.match(r.stdout, `${root}/etc/udev/rules.d/99-kkt-gateway.rules`);
  t.match(r.stdout, 'npm ci --omit=dev');
  t.match(r.stdout, 'npm run build');
  t.match(r.stdout, /web page: http:\/\/\S+:8080/);
  t.notOk(existsSync(root), 'nothing created');
  const u = sh('bash', ['scripts/install.sh', '--dry-run', '--uninstall', '--prefix', root]);
  t.equal(u.status, 0, u.stderr);
  t.notMatch(u.stdout, `rm -rf ${root}/var/lib/kkt-gateway`, 'fiscal data kept without --purge');
  const p = sh('bash', ['scripts/install.sh', '--dry-run', '--uninstall', '--purge', '--prefix', root]);
  t.match(p.stdout, `rm -rf ${root}/var/lib/kkt-gateway`);
});

t.test('install.sh --prefix installs the files and is idempotent, keeping config and data', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kkt-inst-'));
  // no npm ci in tests: a fake npm on PATH records the call
  const bin = mkdtempSync(join(tmpdir(), 'kkt-bin-'));
  writeFileSync(join(bin, 'npm'), '#!/bin/sh\necho "npm $*" >> "$NPM_LOG"\n', { mode: 0o755 });
  const env = { PATH: `${bin}:${process.env.PATH}`, NPM_LOG: join(root, 'npm.log') };
  const first = sh('bash', ['scripts/install.sh', '--prefix', root], env);
  t.equal(first.status, 0, first.stdout + first.stderr);
  t.ok(existsSync(join(root, 'opt/kkt-gateway/bin/kkt-gateway.js')));
  t.ok(existsSync(join(root, 'etc/systemd/system/kkt-gateway.service')));
  const cfgFile = join(root, 'etc/kkt-gateway/config.json');
  t.match(JSON.parse(readFileSync(cfgFile, 'utf8')), { device: { port: String } });
  writeFileSync(cfgFile, '{"device":{"port":"/dev/kkt/mine"}}');
  writeFileSync(join(root, 'var/lib/kkt-gateway/keep'), 'x');
  const again = sh('bash', ['scripts/install.sh', '--prefix', root], env);
  t.equal(again.status, 0, again.stderr);
  t.equal(readFileSync(cfgFile, 'utf8'), '{"device":{"port":"/dev/kkt/mine"}}', 'config kept');
  t.ok(existsSync(join(root, 'var/lib/kkt-gateway/keep')), 'data kept');
  t.match(readFileSync(join(root, 'npm.log'), 'utf8'), 'npm ci --omit=dev');
  t.match(readFileSync(join(root, 'npm.log'), 'utf8'), 'npm run build', 'the bundle is built after the dependencies');
  const un = sh('bash', ['scripts/install.sh', '--uninstall', '--prefix', root], env);
  t.equal(un.status, 0, un.stderr);
  t.notOk(existsSync(join(root, 'opt/kkt-gateway')), 'app removed');
  t.ok(existsSync(join(root, 'var/lib/kkt-gateway/keep')), 'fiscal data kept on uninstall');
});

t.test('systemd-analyze verify passes on the unit (ExecStart rewritten to this checkout)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-unit-'));
  const unit = readFileSync(join(ROOT, 'systemd/kkt-gateway.service'), 'utf8');
  t.match(unit, /^Type=notify$/m);
  t.match(unit, /^WatchdogSec=/m);
  const copy = join(dir, 'kkt-gateway.service');
  // the unit runs the bundle: build it here (scripts/build.mjs, as install.sh does) and point ExecStart at it
  const b = sh(process.execPath, ['scripts/build.mjs', '--outdir', join(dir, 'dist')]);
  t.equal(b.status, 0, b.stderr);
  t.match(unit, /^ExecStart=\/opt\/kkt-gateway\/dist\/kkt-gateway\.mjs run$/m);
  writeFileSync(copy, unit.replace(/^ExecStart=\/opt\/kkt-gateway\//m, `ExecStart=${dir}/`));
  const r = sh('systemd-analyze', ['verify', copy]);
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stderr, /Unknown|ignoring|Invalid/i, r.stderr);
});
