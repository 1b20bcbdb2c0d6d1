/* kkt-gateway local web page: the first-run claim (setup code) and the login. Every text from the server is set with textContent. */
import { api, errText, fieldRow, h, mount, pill, reboot, t } from './common.js';

// ---------------------------------------------------------------------------------------------------- login / setup

export function renderSetup() {
  const code = h('input', { type: 'text', id: 'setup-code', autocomplete: 'one-time-code', inputmode: 'numeric', required: true, placeholder: '1234-5678' });
  const user = h('input', { type: 'text', id: 'setup-username', autocomplete: 'username', value: 'admin', required: true });
  const codeOut = h('div', { class: 'result', id: 'setup-code-result' });
  const printBtn = h('button', { type: 'button', class: 'secondary', id: 'setup-print-code' }, t('setup.printCode'));
  printBtn.addEventListener('click', async () => {
    printBtn.disabled = true;
    const r = await api('POST', '/api/setup/code', {});
    printBtn.disabled = false;
    if (!r.ok) return void codeOut.replaceChildren(pill('bad', errText(r.data && r.data.error)));
    codeOut.replaceChildren(r.data.printed === 'queued' ? pill('ok', t('setup.codePrinted', { fp: r.data.fingerprint || '—' })) : pill('warn', t('setup.codeLogged', { error: r.data.error || '' })));
  });
  const p1 = h('input', { type: 'password', id: 'setup-password', autocomplete: 'new-password', required: true, minlength: 8 });
  const p2 = h('input', { type: 'password', id: 'setup-repeat', autocomplete: 'new-password', required: true, minlength: 8 });
  const msg = h('div', { class: 'field-error', id: 'setup-msg' });
  const form = h('form', { class: 'card login', id: 'setup-form', novalidate: true },
    h('h1', {}, t('setup.title')), h('p', { class: 'hint' }, t('setup.claimHint')), h('p', {}, printBtn), codeOut,
    fieldRow(t('setup.code'), code, 'setup-code'), fieldRow(t('setup.username'), user, 'setup-username'), h('p', { class: 'hint' }, t('setup.hint')),
    fieldRow(t('setup.password'), p1, 'setup-password'), fieldRow(t('setup.repeat'), p2, 'setup-repeat'), msg,
    h('button', { type: 'submit' }, t('setup.submit')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (p1.value !== p2.value) return void (msg.textContent = t('setup.mismatch'));
    const r = await api('POST', '/api/setup', { code: code.value.trim(), username: user.value.trim(), password: p1.value });
    if (!r.ok) return void (msg.textContent = errText(r.data && r.data.error));
    location.hash = '#/status';
    await reboot();
  });
  mount(form);
  code.focus();
}

export function renderLogin() {
  const u = h('input', { type: 'text', id: 'login-username', autocomplete: 'username', value: localStorage.getItem('user') || 'admin', required: true });
  const p = h('input', { type: 'password', id: 'login-password', autocomplete: 'current-password', required: true });
  const msg = h('div', { class: 'field-error', id: 'login-msg' });
  const form = h('form', { class: 'card login', id: 'login-form' }, h('h1', {}, t('login.title')), fieldRow(t('login.username'), u, 'login-username'), fieldRow(t('login.password'), p, 'login-password'), msg, h('button', { type: 'submit' }, t('login.submit')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await api('POST', '/api/login', { username: u.value.trim(), password: p.value });
    if (r.ok) localStorage.setItem('user', u.value.trim());
    if (!r.ok) return void (msg.textContent = errText(r.data && r.data.error));
    await reboot();
  });
  mount(form);
  p.focus();
}
