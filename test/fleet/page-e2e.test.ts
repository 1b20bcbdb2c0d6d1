/**
 * The fleet page end to end in real Chromium (Debian `chromium` driven by playwright-core) against the monitor on a
 * real mosquitto with a real gateway on the emulator and simulated gateways: the list with the problem gateway
 * first, filtering and sorting, a gateway's detail (health, its last Z-report), the English switch; beyond loopback
 * the first-run password, logout and login, and the API closed without a session or a CSRF token.
 */
import t from 'tap';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeRig } from '../helpers/rig.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { buildMonitor } from '../../src/fleet/monitor.ts';
import { SimGateway, simHealth, until } from './monitor-helpers.ts';

t.setTimeout(180_000);
// as test/web/e2e.test.ts (importing that file would run its test)
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = process.env.KKT_SCREENSHOTS ?? join(process.cwd(), 'tmp', 'screenshots');
const PASSWORD = 'Fleet-watch-2026';

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** script errors and CSP violations (reported as console errors) of a page; the 400/401/403 answers the test provokes are expected */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[013] /.test(m.text())) errors.push(m.text());
  });
  return errors;
}

const rowIds = (page: Page): Promise<string[]> => page.$$eval('#rows tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.gateway ?? ''));

t.test('the fleet page in Chromium', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto', config: { gateway_id: 'shop-1', mqtt: { health_interval: 1 } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const sims = await Promise.all(['shop-2', 'shop-3', 'shop-41'].map((id) => SimGateway.connect(rig.broker.url, id)));
  t.teardown(() => Promise.all(sims.map((s) => s.close())));
  await sims[0]!.health(simHealth('shop-2'));
  await sims[1]!.health(simHealth('shop-3', { hoursOpen: 6 }));
  await sims[2]!.health(simHealth('shop-41', { paper: 'out' }));

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  t.teardown(() => browser.close());

  t.test('on loopback: open; problems first, filter, sort, detail, English', async (t) => {
    const monitor = buildMonitor({ mqttUrl: rig.broker.url, listen: '127.0.0.1:0', settleMs: 200, evaluateMs: 200 });
    await monitor.start();
    t.teardown(() => monitor.stop());
    await monitor.ready;
    await until(() => monitor.state.get('shop-1')?.health !== undefined && monitor.alerts.list('shop-41').length === 1, 'every gateway seen');
    // a Z-report of the real gateway while the monitor watches
    await rig.store.publish('receipt', sampleReceipt('fleet-e2e-1'));
    await rig.store.until(() => rig.store.final('fleet-e2e-1')?.status === 'done', 'the receipt');
    await rig.store.publish('request/close_shift', { transaction: 'fleet-e2e-z' });
    await until(() => (monitor.state.get('shop-1')?.zreports.length ?? 0) > 0, 'the Z-report seen by the monitor');

    const page = await browser.newPage();
    t.teardown(() => page.close());
    const errors = watchErrors(page);
    await page.goto(`${monitor.url}/`);
    await page.waitForSelector('#rows tr');
    await until(async () => (await rowIds(page)).length === 4, 'four rows', 15_000);
    const ids = await rowIds(page);
    t.equal(ids[0], 'shop-41', 'the problem gateway first');
    t.same(ids.slice(1), ['shop-1', 'shop-2', 'shop-3'], 'then the others by id');
    t.equal(await page.textContent('#rows tr[data-gateway="shop-41"] [data-alert="paper_out"]'), 'нет бумаги', 'its problem named in Russian');
    t.match(await page.textContent('h1'), 'Шлюзы');
    await shot(page, 'fleet-01-list');

    await page.fill('#filter', 'shop-1');
    await until(async () => (await rowIds(page)).length === 1, 'filtered');
    t.same(await rowIds(page), ['shop-1'], 'the search filters by id');
    await page.fill('#filter', '');
    await page.selectOption('#show', 'problems');
    await until(async () => (await rowIds(page)).length === 1, 'problems only');
    t.same(await rowIds(page), ['shop-41']);
    await page.selectOption('#show', 'all');
    await page.click('th[data-key="shift_open_hours"]');
    await page.click('th[data-key="shift_open_hours"]');
    await until(async () => (await rowIds(page))[0] === 'shop-3', 'sorted by shift hours, descending');
    t.equal(await page.getAttribute('th[data-key="shift_open_hours"]', 'aria-sort'), 'descending');
    await page.click('th[data-key="problem"]');
    await until(async () => (await rowIds(page))[0] === 'shop-41', 'problems first again');
    await page.click('th[data-key="problem"]');
    await until(async () => (await rowIds(page))[3] === 'shop-41', 'problems last when reversed');
    await page.click('th[data-key="problem"]');

    await page.click('#rows tr[data-gateway="shop-1"]');
    await page.waitForSelector('#detail-title');
    t.match(await page.textContent('#detail-title'), 'shop-1');
    t.match(await page.textContent('#card-state'), 'в сети');
    t.match(await page.textContent('#card-register'), 'есть', 'the register link up');
    await page.waitForSelector('#zreports tbody tr');
    const zRow = await page.textContent('#zreports tbody tr');
    const z = monitor.state.get('shop-1')!.zreports[0]!.report;
    t.match(zRow, String(z.fiscal_document_number), 'the Z-report row names its FD');
    t.match(await page.textContent('#health-json'), '"gateway_id": "shop-1"', 'the health as published');
    await shot(page, 'fleet-02-detail');

    await page.click('#lang');
    await page.waitForFunction(() => document.querySelector('#card-state h2')?.textContent === 'State');
    t.equal(await page.textContent('#back'), '← all gateways');
    await page.click('#back');
    await page.waitForSelector('#rows tr');
    t.equal(await page.textContent('h1'), 'Gateways');
    t.equal(await page.textContent('#rows tr[data-gateway="shop-41"] [data-alert="paper_out"]'), 'paper out');
    await page.click('#lang'); // back to Russian for the next page
    t.ok(await page.isHidden('#logout'), 'no logout on an open page');
    t.same(errors, [], 'no script errors or CSP violations');
  });

  t.test('beyond loopback: first-run password, logout, login; the API closed without a session or CSRF', async (t) => {
    const monitor = buildMonitor({ mqttUrl: rig.broker.url, listen: '0.0.0.0:0', authFile: join(rig.dir, 'fleet-auth.json'), settleMs: 200 });
    await monitor.start();
    t.teardown(() => monitor.stop());
    await monitor.ready;
    const port = new URL(monitor.url!).port;
    const base = `http://127.0.0.1:${port}`;

    const closed = await fetch(`${base}/api/gateways`);
    t.equal(closed.status, 403, 'no password yet: the list is closed');
    t.equal(((await closed.json()) as any).error.code, 'SETUP_REQUIRED');

    const page = await browser.newPage();
    t.teardown(() => page.close());
    const errors = watchErrors(page);
    await page.goto(`${base}/`);
    await page.waitForSelector('#setup-form');
    t.match(await page.textContent('#setup-form h1'), 'Первый запуск');
    await shot(page, 'fleet-03-first-run');
    await page.fill('#password', 'short');
    await page.fill('#password2', 'short');
    await page.click('#setup-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent !== '');
    t.equal(await page.textContent('#login-error'), 'Не менее 8 символов', 'a weak password refused');
    await page.fill('#password', PASSWORD);
    await page.fill('#password2', PASSWORD);
    await page.click('#setup-form button[type=submit]');
    await page.waitForSelector('#rows tr');
    t.equal((await rowIds(page))[0], 'shop-41', 'the list after setting the password');
    t.ok(await page.isVisible('#logout'));

    // the session is needed for the API; a state change needs the CSRF token too
    t.equal((await fetch(`${base}/api/gateways`)).status, 401, 'no cookie: 401');
    const cookies = await page.context().cookies();
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    t.equal((await fetch(`${base}/api/gateways`, { headers: { cookie } })).status, 200, 'the browser\'s session works');
    const noCsrf = await fetch(`${base}/api/logout`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' });
    t.equal(noCsrf.status, 403, 'logout without the CSRF token refused');
    t.equal(((await noCsrf.json()) as any).error.code, 'CSRF');
    t.equal((await fetch(`${base}/metrics`)).status, 200, '/metrics stays readable for Prometheus');

    await page.click('#logout');
    await page.waitForSelector('#login-form');
    await page.fill('#password', 'wrong-password-1');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent !== '');
    t.equal(await page.textContent('#login-error'), 'Неверный пароль');
    await page.fill('#password', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#rows tr');
    t.equal((await rowIds(page)).length, 4, 'logged in again: the list');
    await shot(page, 'fleet-04-after-login');
    t.same(errors, [], 'no script errors or CSP violations');
  });
});
