/* kkt-gateway local web page: the settings page (live apply, backup, restore, the page password). Every text from the server is set with textContent. */
import { S, SNO, api, errText, fieldRow, h, mount, pill, t } from './common.js';

// ---------------------------------------------------------------------------------------------------- settings
const BAUDS = [2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];
const FIELDS = [
  ['settings.mqtt', [['mqtt.url', 'text'], ['mqtt.client_id', 'text'], ['mqtt.base_topic', 'text'], ['mqtt.protocol_version', 'select', [4, 5]], ['mqtt.username', 'text'], ['mqtt.password', 'secret'], ['mqtt.ca', 'text'], ['mqtt.cert', 'text'], ['mqtt.key', 'text']]],
  ['settings.device', [['device.name', 'text'], ['device.port', 'port'], ['device.protocol', 'select', ['auto', 'shtrih', 'atol']], ['device.baud_rate', 'select', BAUDS], ['device.password', 'secret-int']]],
  ['settings.fiscal', [['fiscal.tax_systems', 'multi', SNO], ['fiscal.company_inn', 'text'], ['fiscal.registration_number', 'text'], ['fiscal.cashier.name', 'text'], ['fiscal.cashier.inn', 'text'], ['fiscal.require_customer_contact', 'bool']]],
  ['settings.shift', [['shift.close_at', 'text'], ['shift.max_hours', 'number']]],
  ['settings.queue', [['queue.max_receipts', 'int'], ['queue.retention_days', 'int']]],
  ['settings.web', [['web.host', 'text'], ['web.port', 'int']]],
];

function getPath(o, p) {
  return p.split('.').reduce((a, k) => (a === undefined || a === null ? undefined : a[k]), o);
}
function setPath(o, p, v) {
  const ks = p.split('.');
  let cur = o;
  for (const k of ks.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k];
  }
  const last = ks[ks.length - 1];
  if (v === undefined) delete cur[last];
  else cur[last] = v;
}
const inputId = (p) => `f-${p.replace(/\./g, '-')}`;

function makeInput(path, kind, opts, value, ports) {
  const id = inputId(path);
  if (kind === 'select') return h('select', { id, dataset: { path, kind } }, opts.map((o) => h('option', { value: String(o), selected: String(value) === String(o) }, String(o))));
  if (kind === 'multi') {
    const vals = Array.isArray(value) ? value : [];
    return h('div', { id, dataset: { path, kind } }, opts.map((o) => h('label', { class: 'choice' }, h('input', { type: 'checkbox', value: o, checked: vals.includes(o) }), ' ', t(`sno.${o}`))));
  }
  if (kind === 'bool') return h('input', { type: 'checkbox', id, dataset: { path, kind }, checked: Boolean(value) });
  if (kind === 'secret' || kind === 'secret-int') {
    return h('input', { type: 'password', id, autocomplete: 'new-password', placeholder: value !== undefined ? t('settings.secretKeep') : '', dataset: { path, kind, had: value !== undefined ? '1' : '' } });
  }
  if (kind === 'port') {
    const input = h('input', { type: 'text', id, dataset: { path, kind: 'text' }, value: value ?? '' });
    const sel = h('select', { id: 'port-select' }, h('option', { value: '' }, ports.length ? t('settings.detected') : t('settings.noPorts')),
      ports.map((p) => h('option', { value: p.byId || p.path }, `${p.byId || p.path}${p.vendorId ? ` (${p.vendorId}:${p.productId || ''})` : ''}${p.note ? ` — ${p.note}` : p.manufacturer ? ` — ${p.manufacturer}` : ''}`)));
    sel.addEventListener('change', () => {
      if (sel.value) input.value = sel.value;
    });
    return h('div', {}, sel, h('div', { class: 'hint' }, t('settings.typed')), input);
  }
  const type = kind === 'int' || kind === 'number' ? 'number' : 'text';
  return h('input', { type, id, step: kind === 'number' ? 'any' : undefined, dataset: { path, kind }, value: value === undefined || value === null ? '' : String(value) });
}

function readForm(form, base) {
  const cfg = JSON.parse(JSON.stringify(base || {}));
  for (const el of form.querySelectorAll('[data-path]')) {
    const { path, kind } = el.dataset;
    let v;
    if (kind === 'multi') v = [...el.querySelectorAll('input:checked')].map((i) => i.value);
    else if (kind === 'bool') v = el.checked;
    else if (kind === 'secret' || kind === 'secret-int') {
      if (el.value === '') v = el.dataset.had ? '***' : undefined;
      else v = kind === 'secret-int' && /^\d+$/.test(el.value) ? Number(el.value) : el.value;
    } else if (kind === 'int' || kind === 'number' || (kind === 'select' && /^\d+$/.test(el.value))) v = el.value === '' ? undefined : Number(el.value);
    else v = el.value.trim() === '' ? undefined : el.value.trim();
    setPath(cfg, path, v);
  }
  const cashier = getPath(cfg, 'fiscal.cashier');
  if (cashier && !cashier.name) delete cfg.fiscal.cashier;
  return cfg;
}

function showProblems(form, problems) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
  const unplaced = [];
  for (const p of problems || []) {
    const field = String(p.field || '').replace(/\[\d+\]$/, '');
    const err = document.getElementById(`${inputId(field)}-error`);
    const input = document.getElementById(inputId(field));
    if (err) {
      err.textContent = p.message;
      if (input) input.classList.add('invalid');
    } else unplaced.push(`${p.field}: ${p.message}`);
  }
  return unplaced;
}

export async function renderSettings() {
  const [cr, pr] = await Promise.all([api('GET', `/api/config${kktPool.query()}`), api('GET', '/api/ports')]);
  if (!cr.ok) return mount(h('p', { class: 'bad' }, errText(cr.data && cr.data.error)));
  const base = cr.data.config || {};
  const ports = (pr.ok && pr.data.ports) || [];
  const out = h('div', { class: 'result', id: 'settings-result' });
  const form = h('form', { id: 'settings-form', novalidate: true },
    FIELDS.map(([legend, fields]) => h('fieldset', {}, h('legend', {}, t(legend)),
      fields.map(([path, kind, opts]) => fieldRow(t(`f.${path}`), makeInput(path, kind, opts, getPath(base, path), ports), inputId(path))))),
    h('button', { type: 'submit', id: 'settings-save' }, t('settings.save')), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    out.textContent = '';
    const r = await api('PUT', '/api/config', kktPool.body({ config: readForm(form, base) }));
    if (!r.ok) {
      const unplaced = showProblems(form, r.data && r.data.error && r.data.error.problems);
      out.replaceChildren(pill('bad', t('settings.errors')), unplaced.length ? h('ul', {}, unplaced.map((u) => h('li', {}, u))) : '', r.data && r.data.error && !r.data.error.problems ? errText(r.data.error) : '');
      return;
    }
    showProblems(form, []);
    savedReport(out, r.data);
  });

  const restoreInput = h('input', { type: 'file', accept: 'application/json,.json', id: 'restore-file', hidden: true });
  restoreInput.addEventListener('change', async () => {
    const file = restoreInput.files && restoreInput.files[0];
    if (!file) return;
    let parsed;
    try {
      parsed = JSON.parse(await file.text());
    } catch (e) {
      return void out.replaceChildren(pill('bad', String(e.message)));
    }
    const r = await api('POST', '/api/config/restore', parsed);
    if (!r.ok) {
      const unplaced = showProblems(form, r.data && r.data.error && r.data.error.problems);
      return void out.replaceChildren(pill('bad', t('settings.errors')), h('ul', {}, unplaced.map((u) => h('li', {}, u))));
    }
    savedReport(out, r.data);
  });
  const backup = h('div', { class: 'card spaced' }, h('a', { class: 'button', href: '/api/config/backup', download: '', id: 'backup-link' }, t('settings.backup')), ' ',
    h('button', { type: 'button', class: 'secondary', id: 'restore-button', onclick: () => restoreInput.click() }, t('settings.restore')), restoreInput, h('p', { class: 'hint' }, t('settings.backupHint')));

  const cur = h('input', { type: 'password', id: 'pw-current', autocomplete: 'current-password' });
  const nw = h('input', { type: 'password', id: 'pw-new', autocomplete: 'new-password' });
  const pwOut = h('div', { class: 'result' });
  const pwForm = h('form', { id: 'password-form' }, h('fieldset', {}, h('legend', {}, t('settings.password')), fieldRow(t('settings.currentPassword'), cur, 'pw-current'), fieldRow(t('settings.newPassword'), nw, 'pw-new'),
    h('button', { type: 'submit', class: 'secondary' }, t('settings.changePassword')), pwOut));
  pwForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await api('POST', '/api/password', { current: cur.value, password: nw.value });
    if (!r.ok) return void pwOut.replaceChildren(pill('bad', errText(r.data && r.data.error)));
    S.csrf = r.data.csrf;
    cur.value = nw.value = '';
    pwOut.replaceChildren(pill('ok', t('settings.passwordChanged')));
  });
  mount(h('h1', {}, t('settings.title')), h('p', { class: 'hint' }, cr.data.file || ''), backup, form, pwForm);
}

function savedReport(out, d) {
  const parts = [pill('ok', t('settings.saved'))];
  if (d.applied.length === 0 && d.restart.length === 0) parts.push(' ', t('settings.nothing'));
  if (d.applied.length) parts.push(h('p', {}, t('settings.applied', { list: d.applied.join(', ') })));
  if (d.restart.length) {
    const btn = h('button', { type: 'button', id: 'restart-now' }, t('settings.restartNow'));
    btn.addEventListener('click', async () => {
      const r = await api('POST', '/api/restart');
      if (!r.ok) return void btn.replaceWith(pill('bad', errText(r.data && r.data.error)));
      btn.replaceWith(t('settings.restarting'));
      setTimeout(function wait() {
        fetch('/api/session').then(() => location.reload(), () => setTimeout(wait, 2000));
      }, 4000);
    });
    parts.push(h('p', { class: 'warn' }, t('settings.restart', { list: d.restart.join(', ') })), btn);
  }
  out.replaceChildren(...parts);
}
