/* kkt-gateway local web page: the receipts journal and a receipt's page. Every text from the server is set with textContent. */
import { S, api, dl, errText, fmtTime, h, mount, pill, rub, t } from './common.js';

// ---------------------------------------------------------------------------------------------------- journal
const statusPill = (s) => pill(s === 'done' ? 'ok' : s === 'fail' ? 'bad' : 'warn', t(`j.${s}`));

export async function renderJournal() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const search = h('input', { type: 'search', id: 'j-search', value: params.get('search') || '', placeholder: 'order-…' });
  const status = h('select', { id: 'j-status' }, ['', 'accepted', 'done', 'fail'].map((s) => h('option', { value: s, selected: params.get('status') === s }, s ? t(`j.${s}`) : t('j.any'))));
  const from = h('input', { type: 'date', id: 'j-from', value: params.get('from') || '' });
  const to = h('input', { type: 'date', id: 'j-to', value: params.get('to') || '' });
  const body = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('j.more'));
  const empty = h('p', { class: 'muted', hidden: true }, t('j.empty'));
  let next = null;
  const load = async (append) => {
    const q = new URLSearchParams();
    if (search.value) q.set('search', search.value);
    if (status.value) q.set('status', status.value);
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    if (append && next) q.set('before', next);
    const r = await api('GET', `/api/receipts?${q}`);
    if (!r.ok) return;
    if (!append) body.replaceChildren();
    for (const rec of r.data.records) {
      const p = rec.result && rec.result.payload;
      body.append(h('tr', { dataset: { id: rec.external_id } },
        h('td', {}, h('a', { href: `#/receipt/${encodeURIComponent(rec.external_id)}` }, rec.external_id)), h('td', {}, statusPill(rec.status)),
        h('td', {}, fmtTime(rec.accepted_at)), h('td', { class: 'num' }, p && p.total !== undefined ? rub(p.total) : ''),
        h('td', {}, p && p.fiscal_document_number ? `${p.fiscal_document_number} / ${p.fiscal_document_attribute}` : rec.result && rec.result.error ? errText(rec.result.error) : ''), kktPool.journalCell(rec)));
    }
    next = r.data.next;
    more.hidden = !next;
    empty.hidden = body.children.length > 0;
  };
  more.addEventListener('click', () => load(true));
  const form = h('form', { class: 'toolbar', id: 'journal-form' }, h('label', {}, t('j.search'), search), h('label', {}, t('j.status'), status), h('label', {}, t('j.from'), from), h('label', {}, t('j.to'), to), h('button', { type: 'submit' }, t('j.find')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void load(false);
  });
  mount(h('h1', {}, t('j.title')), form, h('table', { id: 'journal' }, h('thead', {}, h('tr', {}, [t('j.search'), t('j.status'), t('j.acceptedAt'), t('j.total'), t('j.fd')].map((x) => h('th', {}, x)), kktPool.journalHead())), body), empty, more);
  await load(false);
  // the journal follows new receipts while it is open
  S.timers.push(setInterval(() => {
    if (!next || body.children.length <= 50) void load(false);
  }, 3000));
}

export async function renderReceipt() {
  const id = decodeURIComponent(location.hash.split('/').slice(2).join('/'));
  const r = await api('GET', `/api/receipts/${encodeURIComponent(id)}`);
  const back = h('a', { href: '#/journal' }, t('j.back'));
  if (!r.ok) return mount(back, h('p', { class: 'bad' }, errText(r.data && r.data.error)));
  const d = r.data;
  const p = d.result && d.result.payload;
  const out = h('div', { class: 'result' });
  const rep = h('button', { type: 'button', class: 'secondary', id: 'republish', disabled: !d.result || d.status === 'accepted' }, t('j.republish'));
  rep.addEventListener('click', async () => {
    const x = await api('POST', `/api/receipts/${encodeURIComponent(id)}/republish`);
    out.replaceChildren(x.ok ? pill('ok', t('j.republished')) : pill('bad', errText(x.data && x.data.error)));
  });
  const copyOut = h('pre', { id: 'receipt-fn-copy', class: 'hidden' });
  const copyBtn = h('button', { type: 'button', class: 'secondary', id: 'fn-copy', disabled: d.status !== 'done' || !p }, t('j.fnCopy'));
  copyBtn.addEventListener('click', async () => {
    const x = await api('GET', `/api/receipts/${encodeURIComponent(id)}/fn-copy`);
    copyOut.classList.remove('hidden');
    copyOut.textContent = x.ok ? JSON.stringify(x.data.copy, null, 2) : errText(x.data && x.data.error);
  });
  mount(back, h('h1', {}, d.external_id, ' ', statusPill(d.status)),
    h('div', { class: 'grid' },
      h('div', { class: 'card', id: 'receipt-summary' }, dl([
        [t('j.acceptedAt'), fmtTime(d.accepted_at)], [t('j.total'), p ? rub(p.total) : null], ['ФД / FD', p && p.fiscal_document_number], ['ФП / FP', p && p.fiscal_document_attribute],
        d.result && d.result.device && [kktPool.tr('column'), kktPool.deviceName(d.result.device)], ['ФН / FN', p && p.fn_number], ['РН ККТ / RN', p && p.ecr_registration_number], [t('status.shift'), p && p.shift_number], ['QR', p && p.qr],
        p && p.link && [t('z.ofdLink'), h('a', { href: p.link, target: '_blank', rel: 'noopener noreferrer', id: 'receipt-link' }, p.link)],
        d.result && d.result.error && [t('j.error'), errText(d.result.error)],
      ]), h('p', {}), rep, ' ', copyBtn, out),
      d.qr_image ? h('div', { class: 'card' }, h('img', { class: 'qr', id: 'receipt-qr', src: d.qr_image, alt: 'QR', width: 220, height: 220 })) : ''),
    h('h2', { class: 'spaced-top' }, t('j.request')), h('pre', { id: 'receipt-request' }, JSON.stringify(d.request, null, 2)),
    h('h2', {}, t('j.result')), h('pre', { id: 'receipt-result' }, JSON.stringify(d.result, null, 2)),
    h('h2', {}, t('j.fnCopyTitle')), copyOut);
}
