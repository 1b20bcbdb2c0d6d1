/* kkt-gateway local web page: the manual receipt. Every text from the server is set with textContent. */
import { S, SNO, api, errText, fieldRow, h, kop, mount, pill, t } from './common.js';

// ---------------------------------------------------------------------------------------------------- manual receipt
/** "12,50" / "12.5" → 1250 kopecks (integers only; NaN when not a money amount) */
function toKop(s) {
  const m = /^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$/.exec(String(s));
  return m ? Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0')) : NaN;
}
/** "1,5" → 1500 thousandths */
function toMilli(s) {
  const m = /^\s*(\d{1,6})(?:[.,](\d{1,3}))?\s*$/.exec(String(s));
  return m ? Number(m[1]) * 1000 + Number((m[2] || '').padEnd(3, '0')) : NaN;
}
const kopToRub = (k) => Number(`${Math.floor(k / 100)}.${String(k % 100).padStart(2, '0')}`);
const milliToNum = (m) => Number(`${Math.floor(m / 1000)}.${String(m % 1000).padStart(3, '0')}`);

function nowStamp() {
  const d = new Date();
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getDate())}.${two(d.getMonth() + 1)}.${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export async function renderManual() {
  const cr = await api('GET', '/api/config');
  const cfg = (cr.ok && cr.data.config) || {};
  const fiscal = cfg.fiscal || {};
  const vatDefault = new Date().getFullYear() >= 2026 ? 'vat22' : 'vat20';
  const VATS = ['none', 'vat0', 'vat5', 'vat7', 'vat10', 'vat20', 'vat22', 'vat105', 'vat107', 'vat110', 'vat120', 'vat122'];
  const METHODS = ['full_payment', 'full_prepayment', 'prepayment', 'advance', 'partial_payment', 'credit', 'credit_payment'];
  const operation = h('select', { id: 'm-operation' }, ['sell', 'sell_refund'].map((o) => h('option', { value: o }, t(`m.${o}`))));
  const extId = h('input', { type: 'text', id: 'm-external_id', value: `web-${Date.now()}` });
  const sno = h('select', { id: 'm-sno' }, (fiscal.tax_systems || SNO).map((s) => h('option', { value: s }, t(`sno.${s}`))));
  const email = h('input', { type: 'email', id: 'm-email' });
  const phone = h('input', { type: 'tel', id: 'm-phone' });
  // the shop's own details are remembered in this browser from the last receipt
  const remembered = JSON.parse(localStorage.getItem('manualCompany') || '{}');
  const inn = h('input', { type: 'text', id: 'm-inn', value: remembered.inn || fiscal.company_inn || '' });
  const companyEmail = h('input', { type: 'email', id: 'm-company-email', value: remembered.email || '' });
  const address = h('input', { type: 'text', id: 'm-address', value: remembered.payment_address || 'https://' + location.host });
  const rows = h('tbody', {});
  const totalCell = h('span', { id: 'm-total', class: 'big' }, '0');
  const pay = {
    1: h('input', { type: 'text', id: 'm-pay-1', inputmode: 'decimal', value: '' }), 0: h('input', { type: 'text', id: 'm-pay-0', inputmode: 'decimal', value: '' }),
    2: h('input', { type: 'text', id: 'm-pay-2', inputmode: 'decimal', value: '' }), 3: h('input', { type: 'text', id: 'm-pay-3', inputmode: 'decimal', value: '' }),
  };
  const recalc = () => {
    let total = 0;
    for (const tr of rows.children) {
      const k = toKop(tr.querySelector('.price').value);
      const q = toMilli(tr.querySelector('.qty').value);
      const sum = Number.isFinite(k) && Number.isFinite(q) ? Math.round((k * q) / 1000) : NaN;
      tr.querySelector('.sum').textContent = Number.isFinite(sum) ? kop(sum) : '?';
      tr.dataset.sum = Number.isFinite(sum) ? String(sum) : '';
      if (Number.isFinite(sum)) total += sum;
    }
    totalCell.textContent = kop(total);
    return total;
  };
  const addRow = (name = '', price = '', qty = '1') => {
    const tr = h('tr', { class: 'item' },
      h('td', {}, h('input', { type: 'text', class: 'name', value: name })), h('td', {}, h('input', { type: 'text', class: 'price', inputmode: 'decimal', value: price })),
      h('td', {}, h('input', { type: 'text', class: 'qty', inputmode: 'decimal', value: qty })), h('td', { class: 'num sum' }, ''),
      h('td', {}, h('select', { class: 'vat' }, VATS.map((v) => h('option', { value: v, selected: v === vatDefault }, v)))),
      h('td', {}, h('select', { class: 'method' }, METHODS.map((v) => h('option', { value: v }, v)))),
      h('td', {}, h('input', { type: 'number', class: 'object', value: '1', min: 1, max: 33 })),
      h('td', {}, h('button', { type: 'button', class: 'link remove', title: 'remove' }, t('m.remove'))));
    tr.querySelector('.remove').addEventListener('click', () => {
      tr.remove();
      recalc();
    });
    tr.addEventListener('input', recalc);
    rows.append(tr);
    recalc();
  };
  addRow();
  const addBtn = h('button', { type: 'button', class: 'secondary', id: 'm-add-item' }, t('m.addItem'));
  addBtn.addEventListener('click', () => addRow());
  const out = h('div', { class: 'result', id: 'm-result' });
  const submit = h('button', { type: 'submit', id: 'm-submit' }, t('m.submit'));
  const form = h('form', { id: 'manual-form', novalidate: true },
    h('fieldset', {}, h('legend', {}, t('m.title')),
      fieldRow(t('m.operation'), operation, 'm-operation'), fieldRow(t('m.external_id'), extId, 'm-external_id'), fieldRow(t('m.sno'), sno, 'm-sno'),
      fieldRow(t('m.email'), email, 'm-email'), fieldRow(t('m.phone'), phone, 'm-phone'), fieldRow(t('m.inn'), inn, 'm-inn'), fieldRow(t('m.companyEmail'), companyEmail, 'm-company-email'), fieldRow(t('m.address'), address, 'm-address'), kktPool.pinChoice()),
    h('fieldset', {}, h('legend', {}, t('m.items')), h('table', { class: 'items' }, h('thead', {}, h('tr', {}, ['m.name', 'm.price', 'm.qty', 'm.sum', 'm.vat', 'm.method', 'm.object', ''].map((k) => h('th', {}, k ? t(k) : '')))), rows), h('p', {}), addBtn,
      h('div', { class: 'field-error', id: 'm-items-error' })),
    h('fieldset', {}, h('legend', {}, t('m.payments')), fieldRow(t('m.card'), pay[1], 'm-pay-1'), fieldRow(t('m.cash'), pay[0], 'm-pay-0'), fieldRow(t('m.prepaid'), pay[2], 'm-pay-2'), fieldRow(t('m.credit'), pay[3], 'm-pay-3'),
      h('p', {}, t('m.total'), ': ', totalCell), h('div', { class: 'field-error', id: 'm-payments-error' })),
    submit, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
    for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
    const total = recalc();
    const items = [...rows.children].map((tr) => {
      const k = toKop(tr.querySelector('.price').value);
      const q = toMilli(tr.querySelector('.qty').value);
      return {
        name: tr.querySelector('.name').value.trim(),
        price: Number.isFinite(k) ? kopToRub(k) : tr.querySelector('.price').value,
        quantity: Number.isFinite(q) ? milliToNum(q) : tr.querySelector('.qty').value,
        measure: 0,
        sum: tr.dataset.sum ? kopToRub(Number(tr.dataset.sum)) : 0,
        payment_method: tr.querySelector('.method').value,
        payment_object: Number(tr.querySelector('.object').value),
        vat: { type: tr.querySelector('.vat').value },
      };
    });
    const payments = [];
    for (const type of [1, 0, 2, 3]) {
      const v = pay[type].value.trim();
      if (!v) continue;
      const k = toKop(v);
      payments.push({ type, sum: Number.isFinite(k) ? kopToRub(k) : v });
    }
    if (payments.length === 0 && total > 0) payments.push({ type: 1, sum: kopToRub(total) });
    const client = {};
    if (email.value.trim()) client.email = email.value.trim();
    if (phone.value.trim()) client.phone = phone.value.trim();
    const company = { email: companyEmail.value.trim(), sno: sno.value, inn: inn.value.trim(), payment_address: address.value.trim() };
    localStorage.setItem('manualCompany', JSON.stringify({ inn: company.inn, email: company.email, payment_address: company.payment_address }));
    const receipt = { operation: operation.value, external_id: extId.value.trim(), timestamp: nowStamp(), receipt: { client, company, items, payments, total: kopToRub(total) } };
    submit.disabled = true;
    out.replaceChildren(t('m.sending'));
    const r = await api('POST', '/api/receipts', kktPool.pinned(receipt));
    submit.disabled = false;
    if (!r.ok) {
      const e = (r.data && r.data.error) || {};
      markReceiptField(e.field);
      return void out.replaceChildren(pill('bad', t('m.rejected', { error: errText(e) })));
    }
    if (r.data.status === 'duplicate') return void out.replaceChildren(pill('warn', t('m.duplicate', { status: t(`j.${r.data.record_status}`) })));
    out.replaceChildren(pill('warn', t('m.accepted')));
    const id = r.data.external_id;
    extId.value = `web-${Date.now()}`;
    const poll = setInterval(async () => {
      const s = await api('GET', `/api/receipts/${encodeURIComponent(id)}`);
      if (!s.ok || s.data.status === 'accepted') return;
      clearInterval(poll);
      const res = s.data.result || {};
      const p = res.payload || {};
      out.replaceChildren(s.data.status === 'done' ? pill('ok', t('m.done', { fd: p.fiscal_document_number, fp: p.fiscal_document_attribute, shift: p.shift_number })) : pill('bad', t('m.failed', { error: errText(res.error) })),
        ' ', h('a', { href: `#/receipt/${encodeURIComponent(id)}`, id: 'm-open' }, id));
    }, 700);
    S.timers.push(poll);
  });
  function markReceiptField(field) {
    if (!field) return;
    const m = /^receipt\.items\[(\d+)\]\.?(\w+)?/.exec(field);
    if (m) {
      const tr = rows.children[Number(m[1])];
      const cls = { name: 'name', price: 'price', quantity: 'qty', sum: 'price', vat: 'vat', payment_method: 'method', payment_object: 'object' }[m[2]] || 'name';
      if (tr) tr.querySelector(`.${cls}`).classList.add('invalid');
      document.getElementById('m-items-error').textContent = field;
      return;
    }
    const map = { external_id: 'm-external_id', 'receipt.client.email': 'm-email', 'receipt.client.phone': 'm-phone', 'receipt.client': 'm-email', 'receipt.company.inn': 'm-inn', 'receipt.company.email': 'm-company-email', 'receipt.company.sno': 'm-sno', 'receipt.company.payment_address': 'm-address', operation: 'm-operation' };
    const key = Object.keys(map).find((k) => field === k || field.startsWith(`${k}.`));
    if (key) {
      document.getElementById(map[key]).classList.add('invalid');
      document.getElementById(`${map[key]}-error`).textContent = field;
    } else if (field.startsWith('receipt.payments') || field === 'receipt.total') document.getElementById('m-payments-error').textContent = field;
  }
  mount(form);
}
