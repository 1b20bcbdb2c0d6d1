/*
 * kkt-gateway local web page: the users page (the admin adds and removes users; everybody changes their own
 * password) and the audit log page (filters, CSV export; read only). An ES module on the page's shared helpers
 * (h, api, t, mount, pill, errText, fmtTime, fieldRow of app.js); on window.kktAdmin for the page's router.
 * Every text from the server is set with textContent.
 */

function ownPassword() {
  const cur = h('input', { type: 'password', id: 'own-current', autocomplete: 'current-password' });
  const nw = h('input', { type: 'password', id: 'own-new', autocomplete: 'new-password', minlength: 8 });
  const out = h('div', { class: 'result', id: 'own-result' });
  const form = h('form', { id: 'own-password-form', class: 'card spaced' }, h('h2', {}, t('u.own')),
    fieldRow(t('settings.currentPassword'), cur, 'own-current'), fieldRow(t('settings.newPassword'), nw, 'own-new'),
    h('button', { type: 'submit', class: 'secondary' }, t('settings.changePassword')), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await api('POST', '/api/password', { current: cur.value, password: nw.value });
    if (!r.ok) return void out.replaceChildren(pill('bad', errText(r.data && r.data.error)));
    S.csrf = r.data.csrf;
    cur.value = '';
    nw.value = '';
    out.replaceChildren(pill('ok', t('settings.passwordChanged')));
  });
  return form;
}

async function users() {
  const admin = S.session && S.session.role === 'admin';
  if (!admin) return mount(h('h1', {}, t('u.title')), ownPassword());
  const list = h('tbody', { id: 'users-list' });
  const out = h('div', { class: 'result', id: 'users-result' });
  const load = async () => {
    const r = await api('GET', '/api/users');
    if (!r.ok) return void out.replaceChildren(pill('bad', errText(r.data && r.data.error)));
    list.replaceChildren(...r.data.users.map((u) => {
      const rm = h('button', { type: 'button', class: 'link remove-user', dataset: { name: u.name } }, t('u.remove'));
      rm.addEventListener('click', async () => {
        const x = await api('DELETE', `/api/users/${encodeURIComponent(u.name)}`);
        out.replaceChildren(x.ok ? pill('ok', t('u.removed')) : pill('bad', errText(x.data && x.data.error)));
        await load();
      });
      return h('tr', { dataset: { user: u.name } }, h('td', {}, u.name), h('td', {}, t(`role.${u.role}`)), h('td', {}, fmtTime(u.created_at)), h('td', {}, u.name === S.session.user ? '' : rm));
    }));
  };
  const name = h('input', { type: 'text', id: 'u-name', autocomplete: 'off', required: true });
  const role = h('select', { id: 'u-role' }, ['cashier', 'admin'].map((r) => h('option', { value: r }, t(`role.${r}`))));
  const pw = h('input', { type: 'password', id: 'u-password', autocomplete: 'new-password', required: true, minlength: 8 });
  const form = h('form', { id: 'user-form', class: 'card spaced' }, h('h2', {}, t('u.add')),
    fieldRow(t('u.name'), name, 'u-name'), fieldRow(t('u.role'), role, 'u-role'), fieldRow(t('u.password'), pw, 'u-password'),
    h('button', { type: 'submit' }, t('u.add')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await api('POST', '/api/users', { name: name.value.trim(), role: role.value, password: pw.value });
    out.replaceChildren(r.ok ? pill('ok', t('u.added')) : pill('bad', errText(r.data && r.data.error)));
    if (r.ok) {
      name.value = '';
      pw.value = '';
      await load();
    }
  });
  mount(h('h1', {}, t('u.title')), h('div', { class: 'card' }, h('table', {}, h('thead', {}, h('tr', {}, ['u.name', 'u.role', 'u.created', ''].map((k) => h('th', {}, k ? t(k) : '')))), list)), out, form, ownPassword());
  await load();
}

const ACTIONS = ['login', 'claim', 'setup_code', 'settings_saved', 'restore', 'restart', 'manual_receipt', 'manual_receipt_result', 'z_report', 'z_report_result', 'x_report', 'cash_in', 'cash_out', 'republish', 'user_added', 'user_removed', 'password_changed', 'forbidden'];

async function audit() {
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
  };
  const find = h('button', { type: 'button', id: 'audit-find' }, t('a.find'));
  find.addEventListener('click', load);
  mount(h('h1', {}, t('a.title')),
    h('div', { class: 'toolbar' }, h('label', {}, t('a.user'), user), h('label', {}, t('a.action'), action), h('label', {}, t('a.outcome'), outcome), h('label', {}, t('j.from'), from), h('label', {}, t('j.to'), to), find, csv),
    h('div', { class: 'card' }, h('table', { id: 'audit-table' }, h('thead', {}, h('tr', {}, ['a.time', 'a.user', 'a.ip', 'a.action', 'a.outcome', 'a.detail'].map((k) => h('th', {}, t(k))))), rows)));
  await load();
}

window.kktAdmin = { users, audit };
