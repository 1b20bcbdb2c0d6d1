/**
 * The web page's API through inject(): every route, unauthenticated, without or with a wrong CSRF token, with bad
 * input, and its effect on the real gateway (aedes over TCP, the emulator on a pty, LevelDB on disk).
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeWebRig } from '../helpers/web-rig.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { InjectClient, claim, waitFor } from '../helpers/web-client.ts';
import { buildWebApp } from '../../src/web/server.ts';
import { createLogger, LogRing } from '../../src/log.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import type { FastifyInstance } from 'fastify';

const MQTT_SECRET = 'mqtt-Secret-42xyz';
const SIGN_SECRET = 'sign-secret-0123456789abcdef';

async function setup(t: any) {
  let restarted = 0;
  const { rig, gw, app, configFile, ring } = await makeWebRig(
    { mqtt: { password: MQTT_SECRET, username: 'gw' }, security: { signing: { enabled: false, keys: [{ id: 'k1', secret: SIGN_SECRET }] } }, fiscal: { registration_number: '0000000001012345' } },
    [MQTT_SECRET, SIGN_SECRET],
    { restart: () => restarted++, eventsMs: 50 },
  );
  t.teardown(async () => {
    await app.close();
    await rig.close();
  });
  rings.set(app, ring);
  return { rig, gw, app, configFile, ring, restarts: () => restarted };
}

/** each app's log ring: the first-run claim reads its setup code there */
const rings = new WeakMap<FastifyInstance, { recent(): object[] }>();

/** every API route and the method to reach it: none may answer without a session */
const PROTECTED: Array<['GET' | 'POST' | 'PUT', string]> = [
  ['GET', '/api/status'], ['POST', '/api/check'], ['GET', '/api/events'], ['GET', '/api/config'], ['PUT', '/api/config'],
  ['GET', '/api/config/backup'], ['POST', '/api/config/restore'], ['GET', '/api/ports'], ['POST', '/api/restart'],
  ['GET', '/api/zreports'], ['POST', '/api/zreports'], ['GET', '/api/receipts'], ['POST', '/api/receipts'],
  ['GET', '/api/receipts/x'], ['GET', '/api/receipts/x/fn-copy'], ['POST', '/api/receipts/x/republish'], ['GET', '/api/logs'], ['POST', '/api/logout'], ['POST', '/api/password'],
  ['GET', '/api/users'], ['POST', '/api/users'], ['GET', '/api/audit'], ['GET', '/api/audit.csv'], ['POST', '/api/commands'],
];


async function loggedIn(app: FastifyInstance): Promise<InjectClient> {
  const c = new InjectClient(app);
  await claim(c, () => rings.get(app)!.recent(), 'correct horse battery');
  // the setup slip is a job of the register's queue: printed before the test goes on
  await waitFor(async () => {
    const h = c.json((await c.req('GET', '/api/status'))).health;
    return !h || h.queue.depth === 0 ? true : undefined;
  }, 'the setup slip printed');
  return c;
}

t.test('first run: only the page, the session probe and setup answer until a password is set', async (t) => {
  const { app, rig } = await setup(t);
  const c = new InjectClient(app);
  const page = await c.req('GET', '/');
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.body, /app\.js/);
  t.equal((await c.req('GET', '/app.js')).statusCode, 200, 'assets are public');
  t.match(c.json(await c.req('GET', '/api/session')), { setup_required: true, authenticated: false });
  for (const [m, url] of PROTECTED) {
    const r = await c.req(m, url, m === 'GET' ? undefined : {});
    t.equal(r.statusCode, 403, `${m} ${url} refused before setup`);
    t.equal(c.json(r).error.code, 'SETUP_REQUIRED');
  }
  t.equal((await c.req('POST', '/api/login', { password: 'whatever1' })).statusCode, 403, 'no login before setup');
  const weak = await c.req('POST', '/api/setup', { password: 'short' });
  t.equal(weak.statusCode, 400);
  t.match(c.json(weak).error, { code: 'WEAK_PASSWORD', field: 'password' });
  t.equal(c.json(await c.req('POST', '/api/setup', { password: 'correct horse battery' })).error.code, 'NO_SETUP_CODE', 'no claim without the setup code');
  const ok = await claim(c, () => rings.get(app)!.recent(), 'correct horse battery');
  t.equal(ok.statusCode, 200);
  const setCookie = String(ok.headers['set-cookie']);
  t.match(setCookie, /kkt_session=[^;]+;.*HttpOnly/i, 'session cookie is HttpOnly');
  t.match(setCookie, /kkt_session=[^;]+;.*SameSite=Strict/i, 'session cookie is SameSite=Strict');
  t.ok(c.json(ok).csrf, 'a CSRF token comes with the session');
  const usersFile = join(rig.config.data_dir, 'web-users.json');
  const stored = await fs.readFile(usersFile, 'utf8');
  t.notMatch(stored, /correct horse/, 'the password is not stored');
  t.match(JSON.parse(stored).users[0], { name: 'admin', role: 'admin', password: { algo: 'scrypt', N: 16384 } });
  t.equal(((await fs.stat(usersFile)).mode & 0o777).toString(8), '600', 'the hash file is private');
  const again = await new InjectClient(app).req('POST', '/api/setup', { password: 'another password' });
  t.equal(again.statusCode, 409, 'setup cannot be run twice (nobody can take over the page)');
  t.match(c.json(await c.req('GET', '/api/session')), { setup_required: false, authenticated: true });
});

t.test('no session: every API route answers 401; a forged or stale cookie is no session', async (t) => {
  const { app } = await setup(t);
  await loggedIn(app);
  const anon = new InjectClient(app);
  for (const [m, url] of PROTECTED) {
    const r = await anon.req(m, url, m === 'GET' ? undefined : {});
    t.equal(r.statusCode, 401, `${m} ${url} needs a session`);
    t.equal(anon.json(r).error.code, 'UNAUTHENTICATED');
  }
  anon.cookies.set('kkt_session', 'forged-value');
  t.equal((await anon.req('GET', '/api/status')).statusCode, 401, 'a forged cookie is refused');
  const c = await (async () => {
    const x = new InjectClient(app);
    await x.req('POST', '/api/login', { password: 'correct horse battery' });
    return x;
  })();
  t.equal((await c.req('GET', '/api/status')).statusCode, 200);
  t.equal((await c.req('POST', '/api/logout')).statusCode, 200);
  t.equal((await c.req('GET', '/api/status')).statusCode, 401, 'logged out');
});

t.test('login: wrong password refused, attempts throttled per address', async (t) => {
  const { app } = await setup(t);
  await loggedIn(app);
  const c = new InjectClient(app);
  const bad = await c.req('POST', '/api/login', { password: 'wrong password' });
  t.equal(bad.statusCode, 401);
  t.equal(c.json(bad).error.code, 'BAD_PASSWORD');
  t.equal((await c.req('POST', '/api/login', {})).statusCode, 401, 'no password given');
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) codes.push((await c.req('POST', '/api/login', { password: `guess-${i}` })).statusCode);
  t.ok(codes.includes(429), `throttled within 7 attempts a minute (got ${codes.join(',')})`);
  const right = await c.req('POST', '/api/login', { password: 'correct horse battery' });
  t.equal(right.statusCode, 429, 'even the right password waits out the throttle');
  t.equal(c.json(right).error.code, 'THROTTLED');
});

t.test('CSRF: a state-changing request without the token or with a wrong one is refused and changes nothing', async (t) => {
  const { app, gw } = await setup(t);
  const c = await loggedIn(app);
  const before = gw.store.depth();
  const receipt = sampleReceipt('csrf-1');
  for (const [name, csrf] of [['missing', null], ['wrong', 'x'.repeat(52)], ['another session\'s', undefined]] as const) {
    let token: string | null = csrf ?? null;
    if (csrf === undefined) {
      const other = new InjectClient(app);
      await other.req('POST', '/api/login', { password: 'correct horse battery' });
      token = other.csrf;
    }
    for (const [m, url, body] of [['POST', '/api/receipts', receipt], ['PUT', '/api/config', { config: {} }], ['POST', '/api/zreports', {}], ['POST', '/api/check', {}], ['POST', '/api/restart', {}]] as const) {
      const r = await c.req(m, url, body, { csrf: token });
      t.equal(r.statusCode, 403, `${name} token: ${m} ${url} refused`);
      t.equal(c.json(r).error.code, 'CSRF');
    }
  }
  t.equal(gw.store.depth(), before, 'nothing queued');
  t.notOk(await gw.store.getRecord('csrf-1'), 'the receipt is unknown');
});

t.test('status, «проверить связь», ports and live events', async (t) => {
  const { app, gw } = await setup(t);
  const c = await loggedIn(app);
  const st = c.json((await c.req('GET', '/api/status')));
  t.equal(st.safe_mode, null);
  t.match(st.health, { gateway_id: 'test', mqtt: { connected: true }, register: {}, queue: { depth: 0 } });
  const check = c.json(await c.req('POST', '/api/check'));
  t.equal(check.ok, true, 'the register answered');
  t.match(check.info, { protocol: 'shtrih', serial: String });
  t.match(check.status, { shift: String, paper: 'ok' });
  t.type(check.ms, 'number');
  const st2 = c.json(await c.req('GET', '/api/status'));
  t.equal(st2.health.register.link, 'up');
  t.match(st2.health.fn, { number: String });
  const ports = c.json(await c.req('GET', '/api/ports'));
  t.match(ports.ports[0], { byId: /by-id/, vendorId: '1fc9', productId: '0083' });

  // server-sent events over a real socket
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const cookie = [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const first = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/events', headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      t.match(res.headers['content-type'], /text\/event-stream/);
      let buf = '';
      res.on('data', (d: Buffer) => {
        buf += d.toString();
        const end = buf.indexOf('\n\n');
        if (end >= 0) {
          resolve(buf.slice(0, end));
          req.destroy();
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
  t.match(first, /^event: status\ndata: /);
  t.match(JSON.parse(first.split('data: ')[1]!), { health: { gateway_id: 'test' } });
  void gw;
});

t.test('settings: secrets never in clear, field errors, live apply, restart notice, backup and restore', async (t) => {
  const { app, gw, configFile, restarts } = await setup(t);
  const c = await loggedIn(app);
  const got = await c.req('GET', '/api/config');
  t.notMatch(got.body, MQTT_SECRET, 'the MQTT password is not sent');
  t.notMatch(got.body, SIGN_SECRET, 'the signing key is not sent');
  const cfg = c.json(got).config;
  t.equal(cfg.mqtt.password, '***');
  t.equal(cfg.device.password, '***', 'the register password neither');
  t.equal(cfg.security.signing.keys[0].secret, '***');

  const bad = structuredClone(cfg);
  bad.shift.close_at = '25:99';
  bad.mqtt.url = 'not a url';
  bad.fiscal.company_inn = '123';
  const r1 = await c.req('PUT', '/api/config', { config: bad });
  t.equal(r1.statusCode, 400);
  const problems = c.json(r1).error.problems as Array<{ field: string; message: string }>;
  t.equal(c.json(r1).error.code, 'INVALID_CONFIG');
  for (const f of ['shift.close_at', 'fiscal.company_inn']) t.ok(problems.some((p) => p.field === f && p.message), `a message for ${f}`);
  t.equal(JSON.parse(await fs.readFile(configFile, 'utf8')).shift.close_at, gw.config.shift.close_at, 'nothing saved');
  t.equal((await c.req('PUT', '/api/config', { config: 'nonsense' })).statusCode, 400, 'not an object');

  const live = structuredClone(cfg);
  live.fiscal.cashier = { name: 'Петрова В.В.', inn: '887405485310' };
  live.shift.close_at = '04:30';
  const r2 = c.json(await c.req('PUT', '/api/config', { config: live }));
  t.same(r2.restart, [], 'no restart needed');
  t.equal(r2.restart_required, false);
  t.ok(r2.applied.includes('fiscal.cashier.name') && r2.applied.includes('shift.close_at'), 'applied at once');
  t.equal(gw.config.fiscal.cashier?.name, 'Петрова В.В.', 'the running gateway uses the new cashier');
  t.equal(gw.config.shift.close_at, '04:30');
  const saved = JSON.parse(await fs.readFile(configFile, 'utf8'));
  t.equal(saved.mqtt.password, MQTT_SECRET, 'the secret kept in the file');
  t.equal(saved.security.signing.keys[0].secret, SIGN_SECRET);
  t.equal(saved.shift.close_at, '04:30');
  t.equal(((await fs.stat(configFile)).mode & 0o777).toString(8), '600');

  const moved = structuredClone(live);
  moved.web.port = 8099;
  moved.mqtt.password = 'new-Broker-pass-77';
  moved.log.level = 'debug';
  const r3 = c.json(await c.req('PUT', '/api/config', { config: moved }));
  t.equal(r3.restart_required, true);
  t.same(r3.restart.sort(), ['log.level', 'mqtt.password', 'web.port'], 'says which settings wait for a restart');
  t.equal(JSON.parse(await fs.readFile(configFile, 'utf8')).mqtt.password, 'new-Broker-pass-77', 'a new secret is saved');
  t.notMatch((await c.req('GET', '/api/config')).body, 'new-Broker-pass-77');
  t.equal(c.json(await c.req('POST', '/api/restart')).restarting, true);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(restarts(), 1, 'restart asked of the process');

  const backup = await c.req('GET', '/api/config/backup');
  t.match(backup.headers['content-disposition'], /attachment; filename="kkt-gateway-config-.*\.json"/);
  t.notMatch(backup.body, /new-Broker-pass-77|sign-secret/, 'no secret in the backup');
  const restoredFrom = JSON.parse(backup.body);
  restoredFrom.shift.close_at = '02:15';
  const r4 = c.json(await c.req('POST', '/api/config/restore', restoredFrom));
  t.equal(r4.saved, true);
  const after = JSON.parse(await fs.readFile(configFile, 'utf8'));
  t.equal(after.shift.close_at, '02:15', 'restored');
  t.equal(after.mqtt.password, 'new-Broker-pass-77', 'restoring a backup keeps the current secrets');
  const brokenRestore = await c.req('POST', '/api/config/restore', { device: {} });
  t.equal(brokenRestore.statusCode, 400);
  t.ok(c.json(brokenRestore).error.problems.some((p: { field: string }) => p.field.startsWith('device')), 'names the missing port');
});

t.test('manual receipt: field errors; then through the queue to the register, in the journal with its QR; re-publish', async (t) => {
  const { app, gw, rig } = await setup(t);
  const c = await loggedIn(app);
  const bad = sampleReceipt('web-bad-1') as any;
  bad.receipt.items[1].sum = 1700;
  const r1 = await c.req('POST', '/api/receipts', bad);
  t.equal(r1.statusCode, 422);
  t.match(c.json(r1), { status: 'rejected', external_id: 'web-bad-1', error: { type: 'validation', field: /^receipt\.items\[1\]/ } });
  t.notOk(await gw.store.getRecord('web-bad-1'), 'never queued');
  const junk = await c.req('POST', '/api/receipts', { hello: 1 });
  t.equal(junk.statusCode, 422, 'not a receipt');
  t.ok(c.json(junk).error.code);

  const web1 = sampleReceipt('web-1');
  const ok = await c.req('POST', '/api/receipts', web1);
  t.equal(ok.statusCode, 200);
  t.same(c.json(ok), { status: 'accepted', external_id: 'web-1' });
  const rec = await waitFor(async () => {
    const r = c.json(await c.req('GET', '/api/receipts/web-1'));
    return r.status === 'done' ? r : undefined;
  }, 'web-1 fiscalized');
  t.match(rec.result.payload, { total: 3989, fiscal_document_number: Number, qr: /^t=\d{8}T\d{4}&s=3989\.00&fn=\d+&i=\d+&fp=\d+&n=1$/ });
  t.match(rec.qr_image, /^data:image\/png;base64,/, 'the QR code as an image');
  t.equal(rec.request.external_id, 'web-1', 'the request as received');
  const fn = readJournal(join(rig.dir, 'fn.jsonl')).documents;
  const doc = fn.find((d) => d.fd === rec.result.payload.fiscal_document_number);
  t.ok(doc, 'the receipt is in the register\'s fiscal storage');
  t.match(doc, { type: 3, total: 398900, fiscalSign: rec.result.payload.fiscal_document_attribute });
  await rig.store.until(() => rig.store.final('web-1') !== undefined, 'result of web-1 on MQTT');

  const dup = c.json(await c.req('POST', '/api/receipts', web1));
  t.match(dup, { status: 'duplicate', record_status: 'done' }, 'the same receipt twice prints nothing');
  t.equal(readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3).length, 1, 'one receipt in the fiscal storage');

  const list = c.json(await c.req('GET', '/api/receipts?status=done&search=WEB-'));
  t.same(list.records.map((r: any) => r.external_id), ['web-1'], 'search by external_id, case-insensitive, filtered by status');
  t.same(c.json(await c.req('GET', '/api/receipts?status=fail')).records, [], 'no failed ones');
  const today = new Date();
  const ymd = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`;
  t.equal(c.json(await c.req('GET', `/api/receipts?from=${ymd}&to=${ymd}`)).records.length, 1, 'date filter includes today');
  t.equal(c.json(await c.req('GET', '/api/receipts?from=2020-01-01&to=2020-01-02')).records.length, 0, 'and excludes other days');
  t.equal((await c.req('GET', '/api/receipts/nope')).statusCode, 404);

  const before = rig.store.results('web-1').filter((r) => r.status === 'done').length;
  t.equal(c.json(await c.req('POST', '/api/receipts/web-1/republish')).republished, true);
  await rig.store.until(() => rig.store.results('web-1').filter((r) => r.status === 'done').length > before, 'republished result');
  t.equal((await c.req('POST', '/api/receipts/nope/republish')).statusCode, 404);
});

t.test('Z-reports: «добавить Z-отчёт» closes the shift through the queue; the table and totals', async (t) => {
  const { app, rig } = await setup(t);
  const c = await loggedIn(app);
  t.same(c.json(await c.req('GET', '/api/zreports')).reports, []);
  await c.req('POST', '/api/receipts', sampleReceipt('z-1'));
  await waitFor(async () => (c.json(await c.req('GET', '/api/receipts/z-1')).status === 'done' ? true : undefined), 'z-1 done');
  const mid = c.json(await c.req('GET', '/api/zreports'));
  t.equal(mid.book.tally.ops.sell.count, 1, "today's tally counts the receipt");
  t.equal(mid.book.tally.ops.sell.payments.electronic, 398900, 'cashless, in kopecks');
  const q = c.json(await c.req('POST', '/api/zreports'));
  t.match(q, { queued: true, id: /^close_shift:web-/ });
  const done = await waitFor(async () => {
    const r = c.json(await c.req('GET', `/api/receipts/${encodeURIComponent(q.id)}`));
    return r.status !== 'accepted' ? r : undefined;
  }, 'close_shift finished');
  t.equal(done.status, 'done');
  const z = c.json(await c.req('GET', '/api/zreports'));
  t.equal(z.reports.length, 1, 'a new row in the table');
  t.match(z.reports[0], { shift_number: Number, receipts_count: 1, total: 3989, registration_number: '0000000001012345', fn_number: String, tax_systems: ['osn'] });
  const fn = readJournal(join(rig.dir, 'fn.jsonl')).documents;
  t.ok(fn.some((d) => d.type === 5 && d.fd === z.reports[0].fiscal_document_number), 'the Z-report is in the fiscal storage');
});

t.test('logs: recent lines with a level filter, secrets masked', async (t) => {
  const { app, ring } = await setup(t);
  const c = await loggedIn(app);
  await new InjectClient(app).req('POST', '/api/login', { password: 'wrong one!' });
  ring.push(JSON.stringify({ level: 30, time: Date.now(), msg: 'an info line' }));
  const warn = c.json(await c.req('GET', '/api/logs?level=warn')).lines as Array<{ msg: string; level: number }>;
  t.ok(warn.some((l) => l.msg === 'web: login failed'), 'the failed login is logged');
  t.ok(warn.every((l) => l.level >= 40), 'only warnings and worse');
  t.ok(c.json(await c.req('GET', '/api/logs?level=info')).lines.some((l: { msg: string }) => l.msg === 'an info line'));
  t.notMatch(JSON.stringify(ring.recent()), MQTT_SECRET);
});

t.test('safe mode: the page runs without a gateway, shows the problems, saves a fixed configuration', async (t) => {
  const dir = await fs.mkdtemp(join(process.cwd(), 'tmp', 'safe-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'config.json');
  await fs.writeFile(configFile, JSON.stringify({ mqtt: { url: 'mqtt://127.0.0.1:1883', password: MQTT_SECRET } }));
  let restarted = 0;
  const ring = new LogRing();
  const app = await buildWebApp({
    logger: createLogger({ level: 'info', ring, destination: { write: () => true } as never }),
    ring,
    authFile: join(dir, 'web-auth.json'),
    configFile,
    safeMode: { problems: [{ field: 'device', message: "must have required property 'port'" }], raw: JSON.parse(await fs.readFile(configFile, 'utf8')) },
    restart: () => restarted++,
  });
  t.teardown(() => app.close());
  rings.set(app, ring);
  const c = await loggedIn(app);
  const st = c.json(await c.req('GET', '/api/status'));
  t.match(st, { safe_mode: { problems: [{ field: 'device' }] }, health: null });
  t.equal((await c.req('GET', '/api/receipts')).statusCode, 503);
  t.equal(c.json(await c.req('POST', '/api/receipts', sampleReceipt('s-1'))).error.code, 'SAFE_MODE', 'no receipt taken in safe mode');
  const cfg = c.json(await c.req('GET', '/api/config'));
  t.equal(cfg.problems[0].field, 'device');
  const fixed = { ...cfg.config, device: { port: '/dev/ttyACM0' } };
  const r = c.json(await c.req('PUT', '/api/config', { config: fixed }));
  t.match(r, { saved: true, restart_required: true });
  const saved = JSON.parse(await fs.readFile(configFile, 'utf8'));
  t.equal(saved.device.port, '/dev/ttyACM0');
  t.equal(saved.mqtt.password, MQTT_SECRET, 'what the file had is kept');
  await c.req('POST', '/api/restart');
  await new Promise((res) => setTimeout(res, 300));
  t.equal(restarted, 1);
});

