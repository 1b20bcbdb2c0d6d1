/**
 * The local page, trusted (issue 18), through inject() over a real gateway (aedes over TCP, the emulator on a pty,
 * LevelDB on disk): the first-run claim with the setup code printed on the register's tape (wrong, expired, reused,
 * 5 tries), every route a cashier may not use refused with nothing changed, users, and the audit log.
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { makeWebRig } from '../helpers/web-rig.ts';
import { InjectClient, claim, setupCodeIn, waitFor } from '../helpers/web-client.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';

const ADMIN_PW = 'correct horse battery';
const CASHIER_PW = 'cashier pass 42';

async function setup(t: any, extra: Record<string, unknown> = {}) {
  let restarted = 0;
  let clock = Date.now();
  const w = await makeWebRig({}, [], { restart: () => restarted++, eventsMs: 50, loginPerMinute: 100, ...extra, now: () => clock });
  t.teardown(async () => {
    await w.app.close();
    await w.rig.close();
  });
  return { ...w, restarts: () => restarted, advance: (ms: number) => (clock += ms) };
}


const tapeOf = async (dir: string): Promise<string[]> => (await fs.readFile(join(dir, 'tape.txt'), 'utf8').catch(() => '')).split('\n').filter(Boolean);

t.test('first run: the setup code is printed on the register as a non-fiscal slip and logged once; wrong, reused, 5 tries', async (t) => {
  const { app, rig, ring } = await setup(t);
  const c = new InjectClient(app);
  t.match(c.json(await c.req('GET', '/api/session')), { setup_required: true, setup_code_pending: false });
  const noCode = await c.req('POST', '/api/setup', { password: ADMIN_PW });
  t.equal(noCode.statusCode, 403, 'no claim without a code');
  t.equal(c.json(noCode).error.code, 'NO_SETUP_CODE');
  const fiscalBefore = readJournal(join(rig.dir, 'fn.jsonl')).documents.length;

  const asked = await c.req('POST', '/api/setup/code', {});
  t.equal(asked.statusCode, 200);
  t.equal(c.json(asked).printed, 'queued');
  const logged = ring.recent().filter((l) => (l as { setup_code?: string }).setup_code);
  t.equal(logged.length, 1, 'the code is in the log once');
  t.equal((logged[0] as { level: number }).level, 30, 'at info level');
  const code = setupCodeIn(ring.recent())!;
  t.match(code, /^\d{4}-\d{4}$/);
  const tape = await waitFor(async () => {
    const l = await tapeOf(rig.dir);
    const at = l.findIndex((x) => x.includes(code));
    return at >= 0 && l.slice(at).some((x) => /НЕ ФИСКАЛЬНЫЙ/.test(x)) ? l : undefined;
  }, 'the slip on the tape');
  t.ok(tape.some((x) => /SETUP CODE/.test(x)), 'the slip says what it is');
  t.ok(tape.some((x) => /НЕ ФИСКАЛЬНЫЙ/.test(x)), 'and that it is not fiscal');
  t.equal(readJournal(join(rig.dir, 'fn.jsonl')).documents.length, fiscalBefore, 'nothing in the fiscal storage');
  t.match(c.json(await c.req('GET', '/api/session')), { setup_code_pending: true });

  const weak = await c.req('POST', '/api/setup', { code, password: 'short' });
  t.equal(weak.statusCode, 400, 'a weak password does not spend the code');
  const wrong = code === '0000-0000' ? '1111-1111' : '0000-0000';
  for (let i = 0; i < 4; i++) t.equal(c.json(await c.req('POST', '/api/setup', { code: wrong, password: ADMIN_PW })).error.code, 'BAD_SETUP_CODE');
  const ok = await c.req('POST', '/api/setup', { code, password: ADMIN_PW });
  t.equal(ok.statusCode, 200, 'the right code after 4 wrong tries claims the gateway');
  t.match(c.json(ok), { user: 'admin', role: 'admin' });
  const again = await new InjectClient(app).req('POST', '/api/setup', { code, password: 'another password' });
  t.equal(again.statusCode, 409, 'claimed once');
  t.equal((await new InjectClient(app).req('POST', '/api/setup/code', {})).statusCode, 409, 'no new code once claimed');
  const r = await c.req('GET', '/api/audit');
  const actions = c.json(r).entries.map((e: any) => `${e.action}:${e.outcome}`);
  t.ok(actions.includes('setup_code:ok') && actions.includes('claim:ok') && actions.includes('claim:refused'), `audit: ${actions.join(' ')}`);
});

t.test('setup code: the fifth wrong try kills it; an expired one is refused; a used one cannot be reused', async (t) => {
  const { app, ring, advance, rig } = await setup(t);
  const c = new InjectClient(app);
  await c.req('POST', '/api/setup/code', {});
  const code1 = setupCodeIn(ring.recent())!;
  const wrong = code1 === '0000-0000' ? '1111-1111' : '0000-0000';
  for (let i = 0; i < 5; i++) t.equal(c.json(await c.req('POST', '/api/setup', { code: wrong, password: ADMIN_PW })).error.code, 'BAD_SETUP_CODE');
  t.equal(c.json(await c.req('POST', '/api/setup', { code: code1, password: ADMIN_PW })).error.code, 'NO_SETUP_CODE', 'dead after 5 wrong tries');

  await c.req('POST', '/api/setup/code', {});
  const code2 = setupCodeIn(ring.recent())!;
  advance(15 * 60_000 + 1000);
  t.equal(c.json(await c.req('POST', '/api/setup', { code: code2, password: ADMIN_PW })).error.code, 'SETUP_CODE_EXPIRED', 'expired after 15 minutes');

  await c.req('POST', '/api/setup/code', {});
  const code3 = setupCodeIn(ring.recent())!;
  t.equal(c.json(await c.req('POST', '/api/setup', { code: code3, password: ADMIN_PW, username: 'bad name!' })).error.code, 'BAD_USERNAME', 'a bad name does not spend the code');
  t.equal((await c.req('POST', '/api/setup', { code: code3, password: ADMIN_PW })).statusCode, 200);
  t.equal((await new InjectClient(app).req('POST', '/api/setup', { code: code3, password: ADMIN_PW })).statusCode, 409, 'claimed once');
  t.ok(JSON.parse(await fs.readFile(join(rig.config.data_dir, 'web-users.json'), 'utf8')).users.every((u: any) => !JSON.stringify(u).includes(ADMIN_PW)), 'only hashes on disk');
});

t.test('setup codes: a used code cannot be reused; a new code voids the old one', async (t) => {
  const { SetupCodes } = await import('../../src/web/setup-code.ts');
  const codes = new SetupCodes(() => 0);
  const a = codes.issue();
  t.equal(codes.check(a), 'ok');
  t.equal(codes.check(a), 'none', 'spent');
  const b = codes.issue();
  const c = codes.issue();
  t.equal(codes.check(b === c ? '' : b), 'wrong', 'the previous code is void');
  t.equal(codes.check(`${c.slice(0, 4)}-${c.slice(4)}`), 'ok', 'typed with the dash');
});

/** every admin-only route with a body that would change something */
const ADMIN_ONLY: Array<['GET' | 'POST' | 'PUT' | 'DELETE', string, unknown?]> = [
  ['GET', '/api/config/backup'], ['PUT', '/api/config', { config: { queue: { retention_days: 1 } } }], ['POST', '/api/config/restore', { queue: { retention_days: 1 } }],
  ['GET', '/api/ports'], ['POST', '/api/restart', {}], ['GET', '/api/logs'], ['POST', '/api/receipts/x/republish', {}],
  ['GET', '/api/users'], ['POST', '/api/users', { name: 'evil', role: 'admin', password: 'evil password 1' }], ['DELETE', '/api/users/admin'],
  ['GET', '/api/audit'], ['GET', '/api/audit.csv'],
];

t.test('roles: a cashier is refused every admin route and nothing changes; may do the cashier things; audit of both', async (t) => {
  const { app, ring, configFile, restarts, rig } = await setup(t);
  const admin = new InjectClient(app);
  await claim(admin, () => ring.recent(), ADMIN_PW);
  const add = await admin.req('POST', '/api/users', { name: 'olga', role: 'cashier', password: CASHIER_PW });
  t.equal(add.statusCode, 200, add.body);
  t.equal((await admin.req('POST', '/api/users', { name: 'olga', role: 'cashier', password: CASHIER_PW })).statusCode, 409, 'names are unique');
  t.equal((await admin.req('POST', '/api/users', { name: 'bad name!', role: 'cashier', password: CASHIER_PW })).statusCode, 400);
  t.equal((await admin.req('POST', '/api/users', { name: 'x', role: 'root', password: CASHIER_PW })).statusCode, 400);

  const cashier = new InjectClient(app);
  t.equal((await cashier.req('POST', '/api/login', { username: 'olga', password: ADMIN_PW })).statusCode, 401, 'the admin password is not hers');
  const li = await cashier.req('POST', '/api/login', { username: 'olga', password: CASHIER_PW });
  t.equal(li.statusCode, 200);
  t.match(cashier.json(li), { user: 'olga', role: 'cashier' });

  const configBefore = await fs.readFile(configFile, 'utf8');
  for (const [m, url, body] of ADMIN_ONLY) {
    const r = await cashier.req(m, url, body);
    t.equal(r.statusCode, 403, `cashier: ${m} ${url} refused`);
    t.equal(cashier.json(r).error.code, 'FORBIDDEN');
    // and the admin may (those that need no more than a valid request)
  }
  t.equal(await fs.readFile(configFile, 'utf8'), configBefore, 'the configuration file is unchanged');
  t.equal(restarts(), 0, 'no restart');
  t.same(admin.json(await admin.req('GET', '/api/users')).users.map((u: any) => `${u.name}:${u.role}`), ['admin:admin', 'olga:cashier'], 'no user added or removed');
  const cfg = cashier.json(await cashier.req('GET', '/api/config'));
  t.same(Object.keys(cfg.config), ['fiscal'], 'a cashier reads only the fiscal section (the manual receipt form)');

  // the cashier's own work
  t.equal((await cashier.req('GET', '/api/status')).statusCode, 200);
  t.equal((await cashier.req('POST', '/api/check', {})).statusCode, 200);
  t.equal((await cashier.req('GET', '/api/receipts')).statusCode, 200);
  const receipt = sampleReceipt('cashier-1');
  const sub = await cashier.req('POST', '/api/receipts', receipt);
  t.equal(sub.statusCode, 200, sub.body);
  const x = await cashier.req('POST', '/api/commands', { command: 'x_report' });
  t.equal(x.statusCode, 200, x.body);
  t.equal((await cashier.req('POST', '/api/commands', { command: 'cash_in', sum: -1 })).statusCode, 400, 'a bad sum is refused');
  t.equal((await cashier.req('POST', '/api/commands', { command: 'format_disk' })).statusCode, 400);
  t.equal((await cashier.req('POST', '/api/commands', { command: 'cash_in', sum: 100.5 })).statusCode, 200);
  const z = await cashier.req('POST', '/api/zreports', {});
  t.equal(z.statusCode, 200, z.body);
  // own password
  t.equal((await cashier.req('POST', '/api/password', { current: 'nope nope', password: 'new cashier pw' })).statusCode, 401);
  t.equal((await cashier.req('POST', '/api/password', { current: CASHIER_PW, password: 'new cashier pw' })).statusCode, 200);
  t.equal((await new InjectClient(app).req('POST', '/api/login', { username: 'olga', password: 'new cashier pw' })).statusCode, 200);
  t.equal((await new InjectClient(app).req('POST', '/api/login', { username: 'admin', password: ADMIN_PW })).statusCode, 200, 'the admin\'s password did not change');

  // the audit log: the manual receipt with its FD once printed, the refusals, who did what, from where
  const entries = await waitFor(async () => {
    const e = admin.json(await admin.req('GET', '/api/audit?user=olga')).entries as any[];
    return e.some((x) => x.action === 'manual_receipt_result') && e.some((x) => x.action === 'z_report_result') ? e : undefined;
  }, 'the receipt\'s and Z-report\'s results in the audit log');
  const fn = readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3);
  const res = entries.find((e) => e.action === 'manual_receipt_result');
  t.match(res, { user: 'olga', role: 'cashier', outcome: 'ok', detail: { external_id: 'cashier-1', fd: fn.at(-1)!.fd } });
  t.ok(entries.every((e) => e.user === 'olga'), 'filtered by user');
  const acts = new Set(entries.map((e) => `${e.action}:${e.outcome}`));
  for (const a of ['login:ok', 'login:refused', 'forbidden:refused', 'manual_receipt:ok', 'x_report:ok', 'cash_in:ok', 'z_report:ok', 'password_changed:ok', 'password_changed:refused']) t.ok(acts.has(a), `audit has ${a}`);
  t.equal(entries.filter((e) => e.action === 'forbidden').length, ADMIN_ONLY.length, 'every refusal recorded');
  const all = admin.json(await admin.req('GET', '/api/audit')).entries as any[];
  t.ok(all.some((e) => e.action === 'user_added' && e.user === 'admin' && e.detail.name === 'olga'), 'the admin added the cashier');
  t.ok(all.every((e) => typeof e.ip === 'string' && !Number.isNaN(Date.parse(e.time))));
  t.equal(admin.json(await admin.req('GET', '/api/audit?action=login&outcome=ok')).entries.every((e: any) => e.action === 'login' && e.outcome === 'ok'), true);
  const csv = await admin.req('GET', '/api/audit.csv?user=olga');
  t.match(csv.headers['content-type'], /text\/csv/);
  t.match(csv.headers['content-disposition'], /attachment/);
  const lines = csv.body.replace(/^\ufeff/, '').trim().split('\r\n');
  t.equal(lines[0], 'time,user,role,ip,action,outcome,external_id,fd,detail');
  t.equal(lines.length, entries.length + 1, 'one CSV line an entry');
  t.ok(lines.some((l) => l.includes('manual_receipt_result') && l.includes('cashier-1')));
  // never editable: no route writes or deletes entries
  for (const m of ['PUT', 'DELETE', 'POST'] as const) t.equal((await admin.req(m, '/api/audit', {})).statusCode, 404, `${m} /api/audit does not exist`);

  // removing the cashier ends her sessions; the last admin cannot be removed
  t.equal((await admin.req('DELETE', '/api/users/olga')).statusCode, 200);
  t.equal((await cashier.req('GET', '/api/status')).statusCode, 401, 'a removed user is logged out');
  t.equal((await admin.req('DELETE', '/api/users/admin')).statusCode, 409, 'the last admin stays');
});

t.test('the audit log survives a restart and drops entries past queue.retention_days', async (t) => {
  const { app, ring, rig, gw } = await setup(t);
  const c = new InjectClient(app);
  await claim(c, () => ring.recent(), ADMIN_PW);
  const file = join(rig.config.data_dir, 'web-audit.jsonl');
  const old = { time: new Date(Date.now() - 40 * 86_400_000).toISOString(), user: 'ghost', role: 'admin', ip: '10.0.0.9', action: 'login', outcome: 'ok' };
  await fs.appendFile(file, JSON.stringify(old) + '\n{"cut by a power lo');
  t.equal(((await fs.stat(file)).mode & 0o777).toString(8), '600', 'mode 0600');
  // a second page on the same data directory (as after a restart) reads what the first wrote
  const { buildWebApp, authFileIn } = await import('../../src/web/server.ts');
  const { createLogger } = await import('../../src/log.ts');
  gw.config.queue.retention_days = 30;
  const app2 = await buildWebApp({ logger: createLogger({ level: 'silent' }), authFile: authFileIn(rig.config.data_dir), configFile: join(rig.dir, 'config.json'), gateway: gw });
  t.teardown(() => app2.close());
  const c2 = new InjectClient(app2);
  t.equal((await c2.req('POST', '/api/login', { password: ADMIN_PW })).statusCode, 200, 'the users survive too');
  const e = c2.json(await c2.req('GET', '/api/audit')).entries as any[];
  t.ok(e.some((x) => x.action === 'claim' && x.outcome === 'ok'), 'the claim is still there');
  t.notOk(e.some((x) => x.user === 'ghost'), 'an entry older than the retention is dropped');
});

t.test('the setup slip on an ATOL register: 4C lines on its tape, nothing fiscal', async (t) => {
  const { makeRig } = await import('../helpers/rig.ts');
  const { buildWebApp, authFileIn } = await import('../../src/web/server.ts');
  const { createLogger, LogRing } = await import('../../src/log.ts');
  const rig = await makeRig({ protocol: 'atol' });
  const gw = await rig.startGateway();
  const ring = new LogRing();
  const app = await buildWebApp({ logger: createLogger({ level: 'info', ring, destination: { write: () => true } as never }), ring, authFile: authFileIn(rig.config.data_dir), configFile: join(rig.dir, 'config.json'), gateway: gw, tlsFingerprint: 'AA:BB:CC' });
  t.teardown(async () => {
    await app.close();
    await rig.close();
  });
  const before = readJournal(join(rig.dir, 'fn.jsonl')).documents.length;
  const c = new InjectClient(app);
  t.match(c.json(await c.req('POST', '/api/setup/code', {})), { printed: 'queued', fingerprint: 'AA:BB:CC' });
  const code = setupCodeIn(ring.recent())!;
  const tape = await waitFor(async () => {
    const l = await tapeOf(rig.dir);
    const at = l.findIndex((x) => x.includes(code));
    return at >= 0 && l.slice(at).some((x) => /НЕ ФИСКАЛЬНЫЙ/.test(x)) ? l : undefined;
  }, 'the slip on the ATOL tape');
  t.ok(tape.includes('AA:BB:CC'), 'with the fingerprint');
  t.equal(readJournal(join(rig.dir, 'fn.jsonl')).documents.length, before, 'nothing in the fiscal storage');
  t.equal((await c.req('POST', '/api/setup', { code, password: ADMIN_PW })).statusCode, 200);
});
