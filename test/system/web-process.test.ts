/**
 * The web page served by the real process (`kkt-gateway run`): next to the running gateway, and alone in safe mode
 * when the configuration cannot be used — the process then stays up for the installer instead of exiting into a
 * systemd restart loop, and stops cleanly on SIGTERM.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { makeRig } from '../helpers/rig.ts';
import { freePort } from '../helpers/broker.ts';
import { ROOT, startGatewayProcess } from '../helpers/gateway-process.ts';
import { parseConfig } from '../../src/config/index.ts';
import { setupCodeIn } from '../helpers/web-client.ts';

async function until<T>(f: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

t.test('the running gateway serves the page on web.port', async (t) => {
  const rig = await makeRig();
  t.teardown(() => rig.close());
  const port = await freePort();
  // plain HTTP (web.tls false, a test setting); HTTPS from the real process: test/security/page-tls.test.ts
  const config = parseConfig({ ...rig.config, web: { host: '127.0.0.1', port, tls: false } });
  const gp = startGatewayProcess(config, rig.dir);
  t.teardown(() => gp.child.kill('SIGKILL'));
  const session = await until(async () => (await fetch(`http://127.0.0.1:${port}/api/session`)).json() as Promise<Record<string, unknown>>, 'web page up');
  t.match(session, { setup_required: true, safe_mode: false });
  const page = await fetch(`http://127.0.0.1:${port}/`);
  t.equal(page.status, 200);
  t.match(await page.text(), /<title>kkt-gateway<\/title>/);
  t.equal((await fetch(`http://127.0.0.1:${port}/api/status`)).status, 403, 'nothing but setup before the password');
  gp.child.kill('SIGTERM');
  t.equal(await gp.exited, 0, 'graceful stop');
});

t.test('an invalid configuration: safe mode, only the page, no crash loop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-safe-'));
  const port = await freePort();
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ data_dir: join(dir, 'data'), mqtt: { url: 'mqtt://127.0.0.1:1', password: 'Safe-Mode-Secret-1' }, shift: { close_at: '25:00' }, web: { host: '127.0.0.1', port, tls: false } }));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'kkt-gateway.js'), 'run', '--config', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(child, 'exit');
  t.teardown(() => child.kill('SIGKILL'));
  const session = await until(async () => (await fetch(`http://127.0.0.1:${port}/api/session`)).json() as Promise<Record<string, unknown>>, 'safe-mode page up');
  t.match(session, { safe_mode: true, setup_required: true });
  t.match(out, /invalid configuration/);
  t.match(out, /SAFE MODE/);
  t.match(out, /device/, 'the missing port is named');
  t.match(out, /shift\.close_at/, 'and the bad closing time');
  t.notMatch(out, 'Safe-Mode-Secret-1', 'no secret in the output');
  // no register to print on in safe mode: the installer reads the setup code in the log
  const asked = await fetch(`http://127.0.0.1:${port}/api/setup/code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.match(await asked.json(), { printed: 'failed' });
  const code = await until(async () => setupCodeIn(out.split('\n')), 'the setup code in the log');
  const setup = await fetch(`http://127.0.0.1:${port}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, password: 'installer-pass' }) });
  t.equal(setup.status, 200);
  const cookie = setup.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const cfg = (await (await fetch(`http://127.0.0.1:${port}/api/config`, { headers: { cookie } })).json()) as { config: Record<string, any>; problems: Array<{ field: string }> };
  t.equal(cfg.config.mqtt.password, '***', 'the file\'s secret is not sent to the browser');
  t.ok(cfg.problems.some((p) => p.field === 'shift.close_at'));
  t.equal(child.exitCode, null, 'still running');
  child.kill('SIGTERM');
  t.same((await exited)[0], 0, 'stops cleanly');
});
