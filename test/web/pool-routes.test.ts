/**
 * The web API of a pool (issue 15 item 5) through inject(), on a real gateway with two registers (a Shtrih-M and an
 * ATOL emulator, each on its own pty with its own FN, aedes over TCP, LevelDB on disk): the `device` parameter of
 * «проверить связь», the settings, the Z-reports and «копия из ФН»; unknown ids refused; a Z-report pinned to one
 * register; a single `device` configuration still saved as `device`.
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { crashReceipt } from '../../scripts/chaos/crash.ts';
import { InjectClient, claim, logOf } from '../helpers/web-client.ts';
import { makePoolWebRig, TWO_REGISTERS, type PoolWebRig } from '../helpers/pool-web-rig.ts';
import { makeWebRig } from '../helpers/web-rig.ts';
import { fnSerialOf } from '../helpers/pool-rig.ts';
import { buildWebApp } from '../../src/web/server.ts';
import { createLogger, LogRing } from '../../src/log.ts';
import type { FastifyInstance } from 'fastify';

t.setTimeout(120_000);

async function loggedIn(app: FastifyInstance): Promise<InjectClient> {
  const c = new InjectClient(app);
  await claim(c, undefined, 'correct horse battery');
  return c;
}

/** the record once its final result is published (a receipt's on `<base>/result`, a command's on its response topic) */
async function finalRecord(w: PoolWebRig, c: InjectClient, id: string): Promise<any> {
  const s = w.rig.store;
  const command = id.includes(':') ? id.split(':')[0] : undefined;
  const transaction = command ? id.slice(command.length + 1) : undefined;
  await s.until(() => (command ? s.messages.some((m) => m.topic === `${s.base}/response/${command}` && m.body?.transaction === transaction) : s.final(id) !== undefined), `the result of ${id}`, 30_000);
  return c.json(await c.req('GET', `/api/receipts/${encodeURIComponent(id)}`));
}

/** a receipt's total in kopecks, as the store sent it */
const kopOf = (r: Record<string, any>): number => Math.round(r.receipt.total * 100);
const HALL = crashReceipt('r-hall', 1);
const BAR = crashReceipt('r-bar', 2);
const sells = (path: string): any[] => readJournal(path).documents.filter((d: any) => d.type === 3) as any[];
const closes = (path: string): any[] => readJournal(path).documents.filter((d: any) => d.type === 5) as any[];

t.test('two registers: every page route takes `device`, refuses an unknown one, and is about that register only', async (t) => {
  const w = await makePoolWebRig(TWO_REGISTERS);
  t.teardown(() => w.close());
  const c = await loggedIn(w.app);

  t.equal((await new InjectClient(w.app).req('GET', '/api/devices')).statusCode, 401, 'the register list needs a session');
  const devs = c.json(await c.req('GET', '/api/devices')).devices;
  t.same(devs.map((d: any) => [d.id, d.name, d.protocol]), [['hall', 'Касса общего зала', 'shtrih'], ['bar', 'Бар', 'atol']]);
  t.equal(devs[1].port, w.rig.ptys.get('bar')!.path);

  // «проверить связь» on the one named
  const check = c.json(await c.req('POST', '/api/check', { device: 'bar' }));
  t.equal(check.ok, true, 'the ATOL register answered');
  t.equal(w.gw.register('bar').link.state.info?.protocol, 'atol', 'it was the ATOL register that was asked');
  for (const [method, url, body] of [
    ['POST', '/api/check', { device: 'nope' }], ['GET', '/api/zreports?device=nope', undefined], ['POST', '/api/zreports', { device: 'nope' }],
    ['GET', '/api/config?device=nope', undefined], ['PUT', '/api/config', { device: 'nope', config: {} }],
  ] as const) {
    const r = await c.req(method, url, body);
    t.equal(r.statusCode, 400, `${method} ${url}: 400`);
    t.match(c.json(r), { error: { code: 'UNKNOWN_DEVICE', field: 'device' } }, `${method} ${url}: UNKNOWN_DEVICE`);
  }
  const noDevice = await c.req('POST', '/api/zreports', {});
  t.equal(noDevice.statusCode, 400);
  t.match(c.json(noDevice), { error: { code: 'DEVICE_REQUIRED' } }, 'a shift close without a register is refused when there are two');

  // a receipt on each register (the page may pin a manual receipt), different sums
  for (const [receipt, device] of [[HALL, 'hall'], [BAR, 'bar']] as const) {
    const r = await c.req('POST', '/api/receipts', { ...receipt, device });
    t.equal(r.statusCode, 200, r.body);
  }
  t.not(kopOf(HALL), kopOf(BAR), 'the two receipts differ');
  const recHall = await finalRecord(w, c, 'r-hall');
  const recBar = await finalRecord(w, c, 'r-bar');
  t.match(recHall, { status: 'done', result: { device: 'hall', payload: { fn_number: fnSerialOf(0) } } });
  t.match(recBar, { status: 'done', result: { device: 'bar', payload: { fn_number: fnSerialOf(1) } } });
  t.same(sells(w.rig.journalOf('hall')).map((d) => d.total), [kopOf(HALL)], 'the pinned receipt is in the hall FN only');
  t.same(sells(w.rig.journalOf('bar')).map((d) => d.total), [kopOf(BAR)], 'and the other in the bar FN only');

  // «копия из ФН» from the register that printed it
  const list = c.json(await c.req('GET', '/api/receipts')).records;
  t.same(Object.fromEntries(list.map((r: any) => [r.external_id, r.result?.device])), { 'r-hall': 'hall', 'r-bar': 'bar' }, 'the journal names the register of each receipt');
  const copy = await c.req('GET', '/api/receipts/r-bar/fn-copy');
  t.equal(copy.statusCode, 200, copy.body);
  t.match(c.json(copy), { fiscal_document_number: recBar.result.payload.fiscal_document_number, copy: { total: kopOf(BAR) } }, 'the copy comes from the bar FN');

  // today's figures per register
  const today = (z: any): number | undefined => {
    if (z.register) return z.register.sums.sell.electronic + z.register.sums.sell.cash;
    const ops = z.book?.tally?.ops;
    return ops ? ops.sell.payments.electronic + ops.sell.payments.cash : undefined;
  };
  const zHall0 = c.json(await c.req('GET', '/api/zreports?device=hall'));
  const zBar0 = c.json(await c.req('GET', '/api/zreports?device=bar'));
  t.equal(zHall0.device, 'hall');
  t.equal(today(zHall0), kopOf(HALL), "hall's today is hall's receipt");
  t.equal(today(zBar0), kopOf(BAR), "bar's today is bar's receipt");

  // «добавить Z-отчёт» on bar: bar's shift only
  const q = await c.req('POST', '/api/zreports', { device: 'bar' });
  t.equal(q.statusCode, 200, q.body);
  t.equal(c.json(q).device, 'bar');
  const z = await finalRecord(w, c, c.json(q).id);
  t.match(z, { status: 'done', result: { device: 'bar' } });
  t.equal(closes(w.rig.journalOf('bar')).length, 1, 'the shift close is in the bar FN');
  t.equal(closes(w.rig.journalOf('hall')).length, 0, 'and not in the hall FN');
  const zBar = c.json(await c.req('GET', '/api/zreports?device=bar'));
  t.equal(zBar.reports.length, 1, "bar's table has its Z-report");
  t.match(zBar.reports[0], { device: 'bar', device_name: 'Бар', fn_number: fnSerialOf(1) });
  t.equal(c.json(await c.req('GET', '/api/zreports?device=hall')).reports.length, 0, "hall's table has none");
  const all = c.json(await c.req('GET', '/api/zreports'));
  t.match(all, { device: null, book: null, register: null }, 'without `device` on a pool: every register\'s reports, no figures');
  t.equal(all.reports.length, 1);
  t.equal(today(c.json(await c.req('GET', '/api/zreports?device=hall'))), kopOf(HALL), "hall's shift goes on");
});

t.test('settings of one register of a pool: shown as `device`, saved into its `devices` entry, passwords redacted and kept', async (t) => {
  const w = await makePoolWebRig([
    { id: 'hall', name: 'Касса общего зала', protocol: 'shtrih', device: { password: 30 } },
    { id: 'bar', name: 'Бар', protocol: 'atol', device: { password: 27 } },
  ]);
  t.teardown(() => w.close());
  const c = await loggedIn(w.app);

  const first = c.json(await c.req('GET', '/api/config'));
  t.match(first, { register: { id: 'hall', path: 'devices.0' }, config: { device: { id: 'hall', name: 'Касса общего зала' } } }, 'without `device`: the first register');
  const view = c.json(await c.req('GET', '/api/config?device=bar'));
  t.match(view.register, { id: 'bar', path: 'devices.1' });
  t.match(view.config.device, { id: 'bar', name: 'Бар', protocol: 'atol', port: w.rig.ptys.get('bar')!.path, password: '***' }, "bar's settings, its password redacted");
  t.same(view.config.devices.map((d: any) => d.password), ['***', '***'], 'every register password is redacted');
  const backup = (await c.req('GET', '/api/config/backup')).body;
  t.same(JSON.parse(backup).devices.map((d: any) => d.password), ['***', '***'], 'and in the backup');

  const edited = structuredClone(view.config);
  edited.device.name = 'Бар у входа';
  edited.device.baud_rate = 57600;
  const saved = await c.req('PUT', '/api/config', { device: 'bar', config: edited });
  t.equal(saved.statusCode, 200, saved.body);
  const file = JSON.parse(await fs.readFile(w.configFile, 'utf8'));
  t.equal(file.device, undefined, 'no `device` is written beside `devices`');
  t.match(file.devices[1], { id: 'bar', name: 'Бар у входа', baud_rate: 57600, password: 27, protocol: 'atol' }, "bar's entry changed, its password kept");
  t.match(file.devices[0], { id: 'hall', name: 'Касса общего зала', password: 30 }, "hall's entry as it was");
  t.ok(c.json(saved).restart.includes('devices'), 'a register setting takes effect after a restart');

  // a restored backup with redacted passwords keeps each register's own
  const restored = await c.req('POST', '/api/config/restore', JSON.parse(backup));
  t.equal(restored.statusCode, 200, restored.body);
  t.same(JSON.parse(await fs.readFile(w.configFile, 'utf8')).devices.map((d: any) => d.password), [30, 27], 'restoring keeps each register password by its id');
});

t.test('a single `device`: one register in the list, its settings saved as `device`', async (t) => {
  const { rig, app, configFile } = await makeWebRig({ device: { name: 'Касса' } }, []);
  t.teardown(async () => {
    await app.close();
    await rig.close();
  });
  const c = await loggedIn(app);
  t.same(c.json(await c.req('GET', '/api/devices')).devices.map((d: any) => [d.id, d.name]), [['kkt1', 'Касса']]);
  const view = c.json(await c.req('GET', '/api/config?device=kkt1'));
  t.match(view.register, { id: 'kkt1', path: 'device' });
  view.config.device.name = 'Касса у окна';
  t.equal((await c.req('PUT', '/api/config', { device: 'kkt1', config: view.config })).statusCode, 200);
  const file = JSON.parse(await fs.readFile(configFile, 'utf8'));
  t.equal(file.devices, undefined);
  t.equal(file.device.name, 'Касса у окна', 'saved as `device`');
  t.equal((await c.req('POST', '/api/zreports', { device: 'kkt2' })).statusCode, 400, 'an unknown id is refused with one register too');
});

t.test('safe mode with `devices`: the registers of the file are listed, one of them fixed by its id', async (t) => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'kkt-safe-pool-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'config.json');
  const raw = { mqtt: { url: 'mqtt://127.0.0.1:1883' }, devices: [{ id: 'a', port: '/dev/ttyACM0', password: 30 }, { id: 'b', name: 'Бар', port: '/dev/ttyACM0', protocol: 'atol', password: 27 }] };
  await fs.writeFile(configFile, JSON.stringify(raw));
  const ring = new LogRing();
  const app = await buildWebApp({
    logger: createLogger({ level: 'info', ring, destination: { write: () => true } as never }),
    authFile: join(dir, 'web-auth.json'),
    configFile,
    safeMode: { problems: [{ field: 'devices.1.port', message: 'the port "/dev/ttyACM0" is already register 1\'s' }], raw },
  });
  t.teardown(() => app.close());
  logOf.set(app, () => ring.recent());
  const c = await loggedIn(app);
  t.same(c.json(await c.req('GET', '/api/devices')).devices.map((d: any) => [d.id, d.name]), [['a', null], ['b', 'Бар']], 'the file\'s registers');
  t.equal((await c.req('GET', '/api/config?device=c')).statusCode, 400, 'an id the file does not have is refused');
  const view = c.json(await c.req('GET', '/api/config?device=b'));
  t.match(view, { register: { id: 'b', path: 'devices.1' }, config: { device: { id: 'b', password: '***' } }, problems: [{ field: 'devices.1.port' }] });
  view.config.device.port = '/dev/ttyACM1';
  const r = await c.req('PUT', '/api/config', { device: 'b', config: view.config });
  t.equal(r.statusCode, 200, r.body);
  const saved = JSON.parse(await fs.readFile(configFile, 'utf8'));
  t.match(saved.devices, [{ id: 'a', port: '/dev/ttyACM0', password: 30 }, { id: 'b', port: '/dev/ttyACM1', password: 27 }], 'the fixed port in b\'s entry, passwords kept');
  t.equal(saved.device, undefined);
});
