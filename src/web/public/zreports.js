/* kkt-gateway local web page: the Z-reports page and «добавить Z-отчёт». Every text from the server is set with textContent. */
import { S, api, dash, dl, errText, h, kop, mount, pill, rub, t } from './common.js';

// ---------------------------------------------------------------------------------------------------- Z-reports
function zRow(z) {
  const sum = z.total;
  const unsent = z.ofd_unsent && z.ofd_unsent.count;
  return h('tr', {},
    h('td', { class: 'num' }, dash(z.shift_number)), h('td', {}, dash(z.closed_at || z.datetime)),
    h('td', {}, unsent ? pill('warn', t('z.unsent', { n: unsent })) : unsent === 0 ? pill('ok', t('z.yes')) : t('status.unknown')),
    h('td', { class: 'num' }, dash(z.receipts_count)), h('td', { class: 'num' }, rub(sum)),
    h('td', {}, dash(z.fn_number)), h('td', {}, dash(z.registration_number)), h('td', {}, (z.tax_systems || []).map((s) => t(`sno.${s}`)).join(', ')),
    h('td', {}, h('a', { href: `#/zreports/${z.fiscal_document_number}` }, t('z.view')),
      z.link ? [' · ', h('a', { href: z.link, target: '_blank', rel: 'noopener noreferrer', class: 'z-ofd-link' }, t('z.ofdLink'))] : '',
      z.mismatch && z.mismatch.length ? [' ', pill('warn', t('z.mismatch', { n: z.mismatch.length }))] : '',
      z.figures_source === 'gateway' ? [' ', h('span', { class: 'muted' }, t('z.byGateway'))] : ''));
}

export async function renderZReports() {
  const r = await api('GET', `/api/zreports${kktPool.query()}`);
  if (!r.ok) return mount(h('p', { class: 'bad' }, errText(r.data && r.data.error)));
  const { reports, book, register } = r.data;
  const detail = location.hash.split('/')[2];
  const out = h('div', { class: 'result', id: 'z-result' });
  const add = h('button', { type: 'button', id: 'z-add' }, t('z.add'));
  add.addEventListener('click', async () => {
    add.disabled = true;
    out.replaceChildren(t('z.adding'));
    const q = await api('POST', '/api/zreports', kktPool.body());
    if (!q.ok) {
      add.disabled = false;
      return void out.replaceChildren(pill('bad', errText(q.data && q.data.error)));
    }
    out.replaceChildren(t('z.queued'));
    const id = q.data.id;
    const poll = setInterval(async () => {
      const s = await api('GET', `/api/receipts/${encodeURIComponent(id)}`);
      if (!s.ok || s.data.status === 'accepted') return;
      clearInterval(poll);
      add.disabled = false;
      const res = s.data.result || {};
      if (s.data.status === 'done') {
        const n = res.data ? res.data.shift_number : undefined;
        await renderZReports();
        const o = document.getElementById('z-result');
        if (o) o.replaceChildren(pill('ok', t('z.added', { n: dash(n) })));
      } else out.replaceChildren(pill('bad', t('z.failed', { error: errText(res.error) })));
    }, 700);
    S.timers.push(poll);
  });
  // X-report, cash in / cash out: queued like the Z-report, the outcome shown when the register has done it
  const sum = h('input', { type: 'text', id: 'cash-sum', inputmode: 'decimal', placeholder: '0,00', size: 8 });
  const command = (name) => {
    const b = h('button', { type: 'button', class: 'secondary', id: `cmd-${name}` }, t(`cmd.${name}`));
    b.addEventListener('click', async () => {
      const m = /^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$/.exec(sum.value);
      const body = name === 'x_report' ? { command: name } : { command: name, sum: m ? Number(`${m[1]}.${(m[2] || '').padEnd(2, '0')}`) : NaN };
      // the outcome shown is this command's: the previous one's is gone at the click
      out.replaceChildren();
      out.dataset.command = name;
      const q = await api('POST', '/api/commands', kktPool.body(body));
      if (!q.ok) return void out.replaceChildren(pill('bad', errText(q.data && q.data.error)));
      out.replaceChildren(t('z.queued'));
      const poll = setInterval(async () => {
        const s = await api('GET', `/api/receipts/${encodeURIComponent(q.data.id)}`);
        if (!s.ok || s.data.status === 'accepted') return;
        clearInterval(poll);
        out.replaceChildren(s.data.status === 'done' ? pill('ok', t('cmd.done')) : pill('bad', errText((s.data.result || {}).error)));
      }, 700);
      S.timers.push(poll);
    });
    return b;
  };
  // the register's own counters when it gave them; the gateway's tally otherwise, marked as such
  let cumulative = book && book.cumulative ? book.cumulative.sell - book.cumulative.sell_refund - book.cumulative.buy + book.cumulative.buy_refund : null;
  const tally = book && book.tally ? book.tally.ops : null;
  const today = register
    ? { counts: register.counts, sums: register.sums }
    : tally ? { counts: Object.fromEntries(Object.entries(tally).map(([k, o]) => [k, o.count])), sums: Object.fromEntries(Object.entries(tally).map(([k, o]) => [k, o.payments])) } : null;
  if (register && register.cumulative) cumulative = register.cumulative.sell - register.cumulative.sell_refund - register.cumulative.buy + register.cumulative.buy_refund;
  const opSum = (p) => p.cash + p.electronic + p.prepaid + p.credit + p.other;
  const cashToday = today ? today.sums.sell.cash - today.sums.sell_refund.cash : null;
  const cashlessToday = today ? today.sums.sell.electronic - today.sums.sell_refund.electronic : null;
  const source = h('div', { class: 'muted', id: 'z-source' }, register ? t('z.byRegister') : t('z.byGateway'));
  const totals = h('div', { class: 'totals' },
    h('div', { class: 'card', id: 'z-cumulative' }, h('div', { class: 'muted' }, t('z.cumulative'), !(register && register.cumulative) && book && book.since ? ` ${t('z.since', { d: book.since.replace('T', ' ') })}` : ''), h('div', { class: 'big' }, kop(cumulative ?? 0))),
    h('div', { class: 'card', id: 'z-today' }, h('div', { class: 'muted' }, t('z.today'), register && register.shiftNumber ? ` № ${register.shiftNumber}` : !register && tally ? ` № ${book.tally.shift}` : ''), dl([
      [t('z.cash'), kop(cashToday ?? 0)], [t('z.cashless'), kop(cashlessToday ?? 0)],
      [t('z.returns'), today ? `${today.counts.sell_refund} / ${kop(opSum(today.sums.sell_refund))}` : '0'],
      [t('z.count'), today ? today.counts.sell + today.counts.sell_refund + today.counts.buy + today.counts.buy_refund : 0],
      register && [t('z.cashIn'), kop(register.cashIn)], register && [t('z.cashOut'), kop(register.cashOut)],
    ]), source));
  const table = reports.length === 0 ? h('p', { class: 'muted', id: 'z-empty' }, t('z.empty')) : h('table', { id: 'z-table' },
    h('thead', {}, h('tr', {}, ['z.number', 'z.date', 'z.ofd', 'z.count', 'z.sum', 'z.fn', 'z.reg', 'z.sno', 'z.link'].map((k) => h('th', { class: k === 'z.count' || k === 'z.sum' || k === 'z.number' ? 'num' : '' }, t(k))))),
    h('tbody', {}, reports.map(zRow)));
  const shown = detail ? reports.find((z) => String(z.fiscal_document_number) === detail) : null;
  mount(h('h1', {}, t('z.title'), kktPool.titleSuffix()), totals, h('div', { class: 'toolbar' }, add, ' ', command('x_report'), ' ', h('label', {}, t('cmd.sum'), sum), command('cash_in'), command('cash_out')), out, table, shown ? h('pre', { id: 'z-detail' }, JSON.stringify(shown, null, 2)) : '');
}
