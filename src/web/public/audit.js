/*
 * kkt-gateway local web page: the audit log (filters by user, action, outcome and dates; CSV export; read only).
 * Every text from the server is set with textContent.
 */
import { api, errText, fmtTime, h, mount, pill, t } from './common.js';

const ACTIONS = ['login', 'claim', 'setup_code', 'settings_saved', 'restore', 'restart', 'manual_receipt', 'manual_receipt_result', 'z_report', 'z_report_result', 'x_report', 'cash_in', 'cash_out', 'republish', 'user_added', 'user_removed', 'password_changed', 'forbidden'];

export async function renderAudit() {
  const user = h('input', { type: 'text', id: 'a-user' });
  const action = h('select', { id: 'a-action' }, h('option', { value: '' }, t('a.any')), ACTIONS.map((a) => h('option', { value: a }, a)));
  const outcome = h('select', { id: 'a-outcome' }, h('option', { value: '' }, t('a.any')), ['ok', 'refused', 'failed'].map((a) => h('option', { value: a }, a)));
  const from = h('input', { type: 'date', id: 'a-from' });
  const to = h('input', { type: 'date', id: 'a-to' });
  const rows = h('tbody', { id: 'audit-rows' });
  const csv = h('a', { class: 'button secondary', id: 'audit-csv', download: '' }, t('a.csv'));
  const query = () => {
    const q = new URLSearchParams();
    for (const [k, el] of [['user', user], ['action', action], ['outcome', outcome], ['from', from], ['to', to]]) if (el.value.trim()) q.set(k, el.value.trim());
    return q.toString();
  };
  const load = async () => {
    const q = query();
    csv.href = `/api/audit.csv${q ? `?${q}` : ''}`;
    const r = await api('GET', `/api/audit${q ? `?${q}` : ''}`);
    if (!r.ok) return void rows.replaceChildren(h('tr', {}, h('td', { colspan: 6 }, errText(r.data && r.data.error))));
    rows.replaceChildren(...(r.data.entries.length ? r.data.entries.map((e) => h('tr', { class: 'audit-entry', dataset: { action: e.action } },
      h('td', {}, fmtTime(e.time)), h('td', {}, e.user ? `${e.user}${e.role ? ` (${t(`role.${e.role}`)})` : ''}` : '—'), h('td', {}, e.ip), h('td', {}, e.action),
      h('td', {}, pill(e.outcome === 'ok' ? 'ok' : e.outcome === 'refused' ? 'warn' : 'bad', e.outcome)), h('td', { class: 'detail' }, e.detail ? JSON.stringify(e.detail) : '')))
      : [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, t('a.empty')))]));
    rows.dataset.query = q; // what the rows shown answer
  };
  const find = h('button', { type: 'button', id: 'audit-find' }, t('a.find'));
  find.addEventListener('click', load);
  mount(h('h1', {}, t('a.title')),
    h('div', { class: 'toolbar' }, h('label', {}, t('a.user'), user), h('label', {}, t('a.action'), action), h('label', {}, t('a.outcome'), outcome), h('label', {}, t('j.from'), from), h('label', {}, t('j.to'), to), find, csv),
    h('div', { class: 'card' }, h('table', { id: 'audit-table' }, h('thead', {}, h('tr', {}, ['a.time', 'a.user', 'a.ip', 'a.action', 'a.outcome', 'a.detail'].map((k) => h('th', {}, t(k))))), rows)));
  await load();
}
