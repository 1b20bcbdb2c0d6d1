/*
 * kkt-gateway local web page: the users page (the admin adds and removes users; everybody changes their own
 * password). Every text from the server is set with textContent.
 */
import { S, api, errText, fieldRow, fmtTime, h, mount, pill, t } from './common.js';

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

export async function renderUsers() {
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
