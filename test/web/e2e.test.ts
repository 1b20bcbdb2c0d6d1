/**
 * The web page end to end in real Chromium (Debian `chromium` driven by playwright-core) against the real gateway
 * (broker over TCP, emulator on a pty, LevelDB on disk): first-run password → status and «проверить связь» →
 * a setting changed → a manual receipt fiscalized, in the journal with its QR and in the emulator's fiscal storage →
 * «добавить Z-отчёт» → the new row in the Z-report table → logs; then the security checks a browser can make.
 * Screenshots of each page go to $KKT_SCREENSHOTS (default tmp/screenshots; the README's are made with
 * KKT_SCREENSHOTS=docs/screenshots).
 */
import t from 'tap';
import { join } from 'node:path';
import { mkdirSync, promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeWebRig } from '../helpers/web-rig.ts';
import { claimInPage, codeFromLog, waitFor } from '../helpers/web-client.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = process.env.KKT_SCREENSHOTS ?? join(process.cwd(), 'tmp', 'screenshots');
const PASSWORD = 'Kassa-2026-pass';
const MQTT_SECRET = 'broker-Secret-e2e-91';

t.setTimeout(180_000);

async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

/** the web rig listening on a free port, and a Chromium, closed at the test's end */
async function served(t: any, config: Record<string, any>, secrets: string[]) {
  const w = await makeWebRig(config, secrets);
  await w.app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(w.app.server.address() as AddressInfo).port}`;
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  t.teardown(async () => {
    await browser.close();
    await w.app.close();
    await w.rig.close();
  });
  return { ...w, base, browser };
}

t.test('an installer does everything in the browser', async (t) => {
  const { rig, gw, app, configFile, base, browser } = await served(t,
    { device: { protocol: 'auto' }, mqtt: { username: 'gw', password: MQTT_SECRET }, fiscal: { registration_number: '0000000001012345', company_inn: '5010051677', cashier: { name: 'Иванова А.А.' } } },
    [MQTT_SECRET],
  );
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ru-RU' });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  page.setDefaultTimeout(20_000);

  // first run: the password
  await page.goto(base);
  await page.waitForSelector('#setup-form');
  await shot(page, '01-first-run');
  await page.fill('#setup-password', PASSWORD);
  await page.fill('#setup-repeat', 'something else');
  await page.click('#setup-form button[type=submit]');
  await page.waitForSelector('#setup-msg:has-text("не совпадают")');
  await claimInPage(page, codeFromLog(app), PASSWORD);

  // status, live, and «проверить связь»
  await page.waitForSelector('#card-register');
  await page.click('#check-link');
  await page.waitForSelector('#check-result:has-text("Касса ответила")');
  await page.waitForSelector('#card-register .pill.ok');
  t.match(await page.textContent('#card-register'), /Связьесть/, 'the link shows up');
  t.match(await page.textContent('#card-fn'), /\d{16}/, 'the FN number is shown');
  t.match(await page.textContent('#card-mqtt'), /да/, 'MQTT connected');
  t.match(await page.textContent('#card-register'), /Протоколshtrih \(определён автоматически\)/, 'the protocol that answered, detected by itself');
  await shot(page, '02-status');
  await page.click('#pin-protocol');
  await page.waitForSelector('#pin-result:has-text("сохранено")');
  t.equal(JSON.parse(await fs.readFile(configFile, 'utf8')).device.protocol, 'shtrih', '«Закрепить протокол» saved the protocol that answered');

  // a setting changed
  await page.click('a[data-page=settings]');
  await page.waitForSelector('#settings-form');
  t.equal(await page.inputValue('#f-mqtt-password'), '', 'the broker password is not in the page');
  t.notMatch(await page.content(), MQTT_SECRET, 'nor anywhere in it');
  t.ok(await page.$('#port-select option[value="/dev/serial/by-id/usb-SHTRIH-M_ShtrihFR-F-if00"]'), 'detected ports offered by their by-id path');
  await page.fill('#f-shift-close_at', '27:00');
  await page.click('#settings-save');
  await page.waitForSelector('#f-shift-close_at-error:not(:empty)');
  t.ok(await page.$('#f-shift-close_at.invalid'), 'the bad field is marked');
  await page.fill('#f-shift-close_at', '03:30');
  await page.fill('#f-fiscal-cashier-name', 'Петрова В.В.');
  await page.click('#settings-save');
  await page.waitForSelector('#settings-result:has-text("Сохранено")');
  t.match(await page.textContent('#settings-result'), /Применено сразу: .*fiscal\.cashier\.name/);
  t.equal(gw.config.fiscal.cashier?.name, 'Петрова В.В.', 'the gateway uses the new cashier at once');
  t.equal(JSON.parse(await fs.readFile(configFile, 'utf8')).mqtt.password, MQTT_SECRET, 'the unchanged secret stays in the file');
  await shot(page, '03-settings');

  // a manual receipt
  await page.click('a[data-page=manual]');
  await page.waitForSelector('#manual-form');
  const extId = await page.inputValue('#m-external_id');
  await page.fill('#m-company-email', 'shop@example.ru');
  await page.fill('#manual-form tr.item .name', 'Кофемолка');
  await page.fill('#manual-form tr.item .price', '1990');
  await page.click('#m-add-item');
  const rows = await page.$$('#manual-form tr.item');
  await (await rows[1]!.$('.name'))!.fill('Кофе в зёрнах 1 кг');
  await (await rows[1]!.$('.price'))!.fill('849,50');
  await (await rows[1]!.$('.qty'))!.fill('2');
  t.equal((await page.textContent('#m-total'))?.replace(/\s/g, ''), '3689,00', 'the total in integer kopecks');
  await page.click('#m-submit');
  await page.waitForSelector('#m-result .pill.bad');
  t.match(await page.textContent('#m-result'), /receipt\.client/, 'no customer contact: refused with the field named');
  await page.fill('#m-email', 'client@example.ru');
  await page.click('#m-submit');
  await page.waitForSelector('#m-result:has-text("фискализирован")', { timeout: 30_000 });
  await shot(page, '04-manual-receipt');
  const fn = readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3);
  t.equal(fn.length, 1, 'one receipt in the emulator\'s fiscal storage');
  t.match(fn[0], { total: 368900, items: [{ name: 'Кофемолка' }, { name: 'Кофе в зёрнах 1 кг' }] });

  // the journal
  await page.click('a[data-page=journal]');
  await page.waitForSelector(`#journal tr[data-id="${extId}"]`);
  t.match(await page.textContent(`#journal tr[data-id="${extId}"]`), /фискализирован/);
  await shot(page, '05-journal');
  await page.click(`#journal tr[data-id="${extId}"] a`);
  await page.waitForSelector('#receipt-qr');
  t.ok(await page.$eval('#receipt-qr', (img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 100), 'the QR code is drawn');
  t.match(await page.textContent('#receipt-summary'), new RegExp(String(fn[0]!.fd)), 'the FD number shown');
  await page.click('#republish');
  await page.waitForSelector('.pill.ok:has-text("опубликован")');
  await page.click('#fn-copy');
  await page.waitForSelector('#receipt-fn-copy:has-text("Кофе в зёрнах 1 кг")');
  t.match(await page.textContent('#receipt-fn-copy'), /"total": 368900/, '«Копия из ФН»: the receipt as the FN holds it');
  await shot(page, '06-receipt');

  // «добавить Z-отчёт»
  await page.click('a[data-page=zreports]');
  await page.waitForSelector('#z-add');
  t.match(await page.textContent('#z-today'), /3\s?689,00/, "today's cashless total");
  t.match(await page.textContent('#z-today'), /по данным ККТ/, 'read from the register');
  await shot(page, '07-zreports-before');
  await page.click('#z-add');
  await page.waitForSelector('#z-table tbody tr', { timeout: 30_000 });
  await page.waitForSelector('#z-result:has-text("Смена закрыта")');
  const row = await page.textContent('#z-table tbody tr');
  t.match(row, /0000000001012345/, 'the registration number in the row');
  t.match(row, /3\s?689,00/, 'the sum in the row');
  t.ok(readJournal(join(rig.dir, 'fn.jsonl')).documents.some((d) => d.type === 5), 'the shift close is in the fiscal storage');
  await shot(page, '08-zreports');

  // logs, and the English switch
  await page.click('a[data-page=logs]');
  await page.waitForSelector('#logs .log-line');
  await shot(page, '09-logs', false);
  await page.click('#lang');
  await page.waitForSelector('a[data-page=status]:has-text("Status")');
  await page.click('a[data-page=status]');
  await page.waitForSelector('#check-link:has-text("Check connection")');
  await shot(page, '10-status-en');
  await page.click('#lang');

  // security, as a browser sees it
  const csrfless = await page.evaluate(async () => (await fetch('/api/check', { method: 'POST' })).status);
  t.equal(csrfless, 403, 'a POST without the CSRF token is refused, even with the session cookie');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'kkt_session');
  t.ok(session?.httpOnly, 'the session cookie is HttpOnly');
  t.equal(session?.sameSite, 'Strict');
  t.equal(await page.evaluate(() => document.cookie.includes('kkt_session')), false, 'scripts cannot read it');

  const stranger = await browser.newContext();
  const sp = await stranger.newPage();
  for (const url of ['/api/status', '/api/config', '/api/receipts', '/api/zreports', '/api/logs', '/api/config/backup']) {
    const r = await sp.goto(base + url);
    t.equal(r?.status(), 401, `${url} unreachable without a session`);
  }
  await sp.goto(base + '/#/settings');
  await sp.waitForSelector('#login-form');
  t.equal(await sp.isVisible('#settings-form'), false, 'the page shows the login, nothing else');
  await shot(sp, '00-login');
  let throttled = false;
  for (let i = 0; i < 7 && !throttled; i++) {
    await sp.fill('#login-password', `guess-${i}`);
    await sp.click('#login-form button[type=submit]');
    await sp.waitForSelector('#login-msg:not(:empty)');
    throttled = /Слишком много попыток/.test((await sp.textContent('#login-msg')) ?? '');
    await sp.evaluate(() => (document.getElementById('login-msg')!.textContent = ''));
  }
  t.ok(throttled, 'login attempts are throttled');
  await stranger.close();

  // log out
  await page.click('#logout');
  await page.waitForSelector('#login-form');
  t.same(pageErrors.filter((e) => !/status of 4\d\d/.test(e)), [], 'no script errors or Content-Security-Policy violations on any page');
});

t.test('the claim with the code from the register\'s printout, a cashier, her manual receipt in the audit log', async (t) => {
  const { rig, base, browser } = await served(t, { fiscal: { company_inn: '5010051677' } }, []);
  const errors: string[] = [];
  const open = async (): Promise<Page> => {
    const p = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ru-RU' })).newPage();
    p.on('pageerror', (e) => errors.push(e.message));
    p.setDefaultTimeout(20_000);
    await p.goto(base);
    return p;
  };
  // the admin at the register: the code as the emulator printed it on its tape
  const admin = await open();
  const fromTape = async (): Promise<string | undefined> => {
    const tape = await fs.readFile(join(rig.dir, 'tape.txt'), 'utf8').catch(() => '');
    return /\b(\d{4}-\d{4})\b/.exec(tape)?.[1];
  };
  await claimInPage(admin, fromTape, PASSWORD);
  await admin.waitForSelector('#card-register');
  t.match(await admin.textContent('#whoami'), /admin/);
  await shot(admin, '10-claimed');
  // a cashier
  await admin.click('a[data-page=users]');
  await admin.waitForSelector('#user-form');
  await admin.fill('#u-name', 'olga');
  await admin.selectOption('#u-role', 'cashier');
  await admin.fill('#u-password', 'Olga-kassa-1');
  await admin.click('#user-form button[type=submit]');
  await admin.waitForSelector('#users-list tr[data-user="olga"]');
  await shot(admin, '11-users');

  // the cashier logs in: no settings, no users' list, no audit; a manual receipt
  const cashier = await open();
  await cashier.waitForSelector('#login-form');
  await cashier.fill('#login-username', 'olga');
  await cashier.fill('#login-password', 'Olga-kassa-1');
  await cashier.click('#login-form button[type=submit]');
  await cashier.waitForSelector('#card-register');
  t.match(await cashier.textContent('#whoami'), /olga \(кассир\)/);
  t.equal(await cashier.isVisible('a[data-page=settings]'), false, 'no settings for a cashier');
  t.equal(await cashier.isVisible('a[data-page=audit]'), false, 'no audit for a cashier');
  await cashier.click('a[data-page=manual]');
  await cashier.waitForSelector('#manual-form');
  await cashier.fill('#m-external_id', 'olga-1');
  await cashier.fill('#m-company-email', 'shop@example.com');
  await cashier.fill('#m-email', 'client@example.ru');
  await cashier.fill('#manual-form tr.item .name', 'Хлеб');
  await cashier.fill('#manual-form tr.item .price', '45,50');
  await cashier.click('#m-submit');
  await cashier.waitForSelector('#m-result .pill.ok, #m-result .pill.bad', { timeout: 30_000 });
  t.match(await cashier.textContent('#m-result'), /фискализирован/, 'the cashier\'s receipt is fiscalized');
  const fd = readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3).at(-1)!.fd;
  // an X-report and a cash-in from the Z-reports page
  await cashier.click('a[data-page=zreports]');
  await cashier.waitForSelector('#cmd-x_report');
  await cashier.click('#cmd-x_report');
  await cashier.waitForSelector('#z-result[data-command=x_report]:has-text("Выполнено")', { timeout: 30_000 });
  await cashier.fill('#cash-sum', '150,25');
  await cashier.click('#cmd-cash_in');
  await cashier.waitForSelector('#z-result[data-command=cash_in]:has-text("Выполнено")', { timeout: 30_000 });
  t.ok(readJournal(join(rig.dir, 'fn.jsonl')).nonFiscal.some((r) => r.type === 'cash_in' && r.sum === 15025), 'the cash-in is on the register');

  // both actions in the admin's audit log, with who did them, and the receipt's FD
  await admin.click('a[data-page=audit]');
  await admin.waitForSelector('#audit-table');
  await waitFor(async () => {
    await admin.click('#audit-find');
    await admin.waitForSelector('#audit-rows tr');
    return (await admin.$('#audit-rows tr[data-action="manual_receipt_result"]')) ? true : undefined;
  }, 'the receipt\'s result in the audit log');
  const added = await admin.textContent('#audit-rows tr[data-action="user_added"]');
  t.match(added, /admin/, 'the admin added the cashier');
  t.match(added, /olga/);
  const receipt = await admin.textContent('#audit-rows tr[data-action="manual_receipt"]');
  t.match(receipt, /olga \(кассир\)/, 'the cashier registered the receipt');
  t.match(receipt, /olga-1/);
  t.match(await admin.textContent('#audit-rows tr[data-action="manual_receipt_result"]'), new RegExp(`"fd":${fd}\\b`), 'with its FD');
  t.match(await admin.textContent('#audit-rows tr[data-action="cash_in"]'), /olga.*150\.25/, 'the cash-in with its sum');
  t.ok(await admin.$('#audit-rows tr[data-action="x_report"]'), 'the X-report');
  await admin.fill('#a-user', 'olga');
  await admin.click('#audit-find');
  await admin.waitForSelector('#audit-rows[data-query="user=olga"] tr[data-action="login"]');
  t.notOk(await admin.$('#audit-rows tr[data-action="user_added"]'), 'filtered by user');
  t.match(await admin.getAttribute('#audit-csv', 'href'), /\/api\/audit\.csv\?user=olga/);
  await shot(admin, '12-audit');
  t.same(errors, [], 'no script errors');
});
