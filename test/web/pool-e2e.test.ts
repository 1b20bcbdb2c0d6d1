/**
 * «Выбор кассы ККМ» end to end in real Chromium (playwright-core, /usr/bin/chromium) on a gateway with two registers
 * (a Shtrih-M «Касса общего зала» and an ATOL «Бар», each emulator on its own pty with its own FN, aedes over TCP,
 * LevelDB on disk): the selector is shown; switching it shows the other register's status and «проверить связь»
 * asks that one; the journal names the register of each receipt; «добавить Z-отчёт» on one register closes that
 * register's shift only (the emulators' FN journals say so) and the other's table stays empty; the settings page
 * edits the selected register's `devices` entry.
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { launchPage } from '../helpers/chromium.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { crashReceipt } from '../../scripts/chaos/crash.ts';
import { makePoolWebRig, TWO_REGISTERS } from '../helpers/pool-web-rig.ts';
import { makeWebRig } from '../helpers/web-rig.ts';
import { claimInPage, codeFromLog } from '../helpers/web-client.ts';

t.setTimeout(180_000);

const PASSWORD = 'Kassa-2026-pool';
const docsOf = (path: string, type: number): any[] => readJournal(path).documents.filter((d: any) => d.type === type) as any[];
/** "3 989,01"-style amount of kopecks, as the page writes it (any spacing) */
const rubText = (k: number): RegExp => new RegExp(`${String(Math.floor(k / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, '\\s?')},${String(k % 100).padStart(2, '0')}`);

t.test('two registers in the browser: the selector, each register\'s status, journal column and Z-report', async (t) => {
  const w = await makePoolWebRig(TWO_REGISTERS);
  await w.app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(w.app.server.address() as AddressInfo).port}`;
  const { browser, page, errors: pageErrors } = await launchPage();
  t.teardown(async () => {
    await browser.close();
    await w.close();
  });

  // one receipt on each register, pinned over MQTT
  const hall = crashReceipt('r-hall', 11) as Record<string, any>;
  const bar = crashReceipt('r-bar', 22);
  const kop = (r: Record<string, any>): number => Math.round(r.receipt.total * 100);
  await w.rig.store.publish('receipt', { ...hall, device: 'hall' });
  await w.rig.store.publish('receipt', { ...bar, device: 'bar' });
  await w.rig.store.until(() => ['r-hall', 'r-bar'].every((id) => w.rig.store.final(id)), 'both receipts', 30_000);

  await page.goto(base);
  await claimInPage(page, codeFromLog(w.app), PASSWORD);

  // the selector, and the first register's status
  await page.waitForSelector('#card-register .pill.ok');
  t.ok(await page.isVisible('#device-picker'), 'the register selector is shown with two registers');
  t.match(await page.textContent('#device-picker'), /Выбор кассы ККМ/);
  t.same(await page.$$eval('#device-select option', (os) => os.map((o) => (o as HTMLOptionElement).value)), ['hall', 'bar']);
  t.match(await page.textContent('h1'), /Касса общего зала/);
  t.match(await page.textContent('#card-register'), /Протоколshtrih/, "the hall register's status");
  t.match(await page.textContent('#card-fn'), new RegExp(w.gw.register('hall').fnNumber()!), "the hall register's FN");

  // switching shows the other register's status; «проверить связь» asks it
  await page.selectOption('#device-select', 'bar');
  await page.waitForSelector('h1:has-text("Бар")');
  await page.waitForSelector('#card-register:has-text("atol")');
  t.match(await page.textContent('#card-fn'), new RegExp(w.gw.register('bar').fnNumber()!), "the bar register's FN");
  t.notMatch(await page.textContent('#card-fn'), new RegExp(w.gw.register('hall').fnNumber()!), 'not the hall one');
  const checks = (w.gw.register('bar').link.state.lastOkAt ?? 0);
  await page.click('#check-link');
  await page.waitForSelector('#check-result:has-text("Касса ответила")');
  t.ok((w.gw.register('bar').link.state.lastOkAt ?? 0) >= checks, 'the bar register was asked');
  t.match(await page.textContent('#check-result'), new RegExp(w.gw.register('bar').fnNumber()!), 'the answer is the bar register\'s');

  // the journal's register column
  await page.click('a[data-page=journal]');
  await page.waitForSelector('#journal tr[data-id="r-bar"] td.device');
  t.match(await page.textContent('#journal thead'), /Касса/, 'a register column');
  t.equal((await page.textContent('#journal tr[data-id="r-hall"] td.device'))?.trim(), 'Касса общего зала', 'the hall receipt was printed by the hall register');
  t.equal((await page.textContent('#journal tr[data-id="r-bar"] td.device'))?.trim(), 'Бар', 'the bar receipt by the bar register');

  // «добавить Z-отчёт» on bar (still selected): bar's shift only
  await page.click('a[data-page=zreports]');
  await page.waitForSelector('#z-add');
  t.match(await page.textContent('h1'), /Бар/);
  t.match(await page.textContent('#z-today'), rubText(kop(bar)), "bar's today is bar's receipt");
  t.notMatch(await page.textContent('#z-today'), rubText(kop(hall)), "not hall's");
  await page.click('#z-add');
  await page.waitForSelector('#z-result:has-text("Смена закрыта")', { timeout: 30_000 });
  t.equal((await page.$$('#z-table tbody tr')).length, 1, 'one row in bar\'s table');
  t.match(await page.textContent('#z-table tbody tr'), rubText(kop(bar)), 'with bar\'s sum');
  t.equal(docsOf(w.rig.journalOf('bar'), 5).length, 1, 'the shift close is in the bar FN');
  t.equal(docsOf(w.rig.journalOf('hall'), 5).length, 0, 'not in the hall FN');
  await page.selectOption('#device-select', 'hall');
  await page.waitForSelector('h1:has-text("Касса общего зала")');
  await page.waitForSelector('#z-empty');
  t.match(await page.textContent('#z-today'), rubText(kop(hall)), "hall's shift goes on with its receipt");

  // settings of the selected register go to its `devices` entry
  await page.selectOption('#device-select', 'bar');
  await page.waitForSelector('h1:has-text("Бар")');
  await page.waitForSelector('#z-table');
  await page.click('a[data-page=settings]');
  await page.waitForSelector('#settings-form');
  t.equal(await page.inputValue('#f-device-name'), 'Бар');
  t.equal(await page.inputValue('#f-device-port'), w.rig.ptys.get('bar')!.path, "bar's port");
  t.equal(await page.inputValue('#f-device-protocol'), 'atol');
  await page.fill('#f-device-name', 'Бар у входа');
  await page.click('#settings-save');
  await page.waitForSelector('#settings-result:has-text("Сохранено")');
  const file = JSON.parse(await fs.readFile(w.configFile, 'utf8'));
  t.equal(file.device, undefined, 'no single `device` written');
  t.match(file.devices, [{ id: 'hall', name: 'Касса общего зала' }, { id: 'bar', name: 'Бар у входа', protocol: 'atol' }], "bar's entry changed, hall's not");
  await page.selectOption('#device-select', 'hall');
  await page.waitForFunction(() => (document.getElementById('f-device-name') as HTMLInputElement | null)?.value === 'Касса общего зала');
  t.equal(await page.inputValue('#f-device-port'), w.rig.ptys.get('hall')!.path, "switching shows hall's port");

  // a manual receipt pinned to the selected register
  await page.selectOption('#device-select', 'bar');
  await page.click('a[data-page=manual]');
  await page.waitForSelector('#m-pin-device');
  t.match(await page.textContent('label:has(#m-pin-device)'), /Бар/, 'the pin names the selected register');
  await page.fill('#m-inn', hall.receipt.company.inn);
  await page.selectOption('#m-sno', hall.receipt.company.sno);
  await page.fill('#m-company-email', 'shop@example.ru');
  await page.fill('#m-email', 'client@example.ru');
  await page.fill('#manual-form tr.item .name', 'Чай');
  await page.fill('#manual-form tr.item .price', '123,45');
  await page.check('#m-pin-device');
  const manualId = await page.inputValue('#m-external_id');
  await page.click('#m-submit');
  await page.waitForSelector('#m-result:has-text("фискализирован")', { timeout: 30_000 });
  t.equal(docsOf(w.rig.journalOf('bar'), 3).filter((d) => d.total === 12345).length, 1, 'printed by the bar register');
  t.equal(docsOf(w.rig.journalOf('hall'), 3).filter((d) => d.total === 12345).length, 0, 'not by the hall one');
  t.match(await w.gw.store.getRecord(manualId), { result: { device: 'bar' } });

  t.same(pageErrors.filter((e) => !/status of 4\d\d/.test(e)), [], 'no script errors on any page');
});

t.test('one register: no selector, no register column', async (t) => {
  const { rig, app } = await makeWebRig({}, []);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { browser, page, errors } = await launchPage();
  t.teardown(async () => {
    await browser.close();
    await app.close();
    await rig.close();
  });
  await page.goto(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
  await claimInPage(page, codeFromLog(app), PASSWORD);
  await page.waitForSelector('#card-register');
  t.ok(await page.$('#device-select option[value="kkt1"]'), 'the selector knows the one register');
  t.equal(await page.isVisible('#device-picker'), false, 'and is hidden');
  await page.click('a[data-page=journal]');
  await page.waitForSelector('#journal thead th');
  t.same(await page.$$eval('#journal thead th', (ths) => ths.map((x) => x.textContent)), ['external_id', 'Статус', 'Принят', 'Сумма', 'ФД / ФП'], 'the journal as before');
  await page.click('a[data-page=zreports]');
  await page.waitForSelector('#z-add');
  t.equal(await page.textContent('h1'), 'Z-отчёты', 'titles without a register name');
  t.same(errors.filter((e) => !/status of 4\d\d/.test(e)), []);
});
