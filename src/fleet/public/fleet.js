// kkt-gateway fleet page: plain ES modules, no build step. Every text from the server is set with textContent.
import { t, getLang, setLang } from './i18n.js';

const S = { csrf: '', loginRequired: false, sort: { key: 'problem', dir: -1 }, filter: '', show: 'all', timer: null, data: null };

// ---------------------------------------------------------------------------------------------------- DOM helpers
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const main = () => document.getElementById('main');
const pill = (cls, text) => h('span', { class: `pill ${cls}` }, text);
const dash = (v) => (v === null || v === undefined || v === '' ? t('none') : v);

function banner(text) {
  const b = document.getElementById('banner');
  b.textContent = text || '';
  b.hidden = !text;
}

function translateStatic() {
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  document.getElementById('lang').textContent = getLang() === 'ru' ? 'EN' : 'RU';
}

// ---------------------------------------------------------------------------------------------------- API
async function api(method, url, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && S.csrf) headers['x-csrf-token'] = S.csrf;
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    banner(t('err.network'));
    throw new Error('network');
  }
  banner('');
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && data.error?.code === 'UNAUTHENTICATED') {
    await start();
    throw new Error('unauthenticated');
  }
  if (!res.ok) {
    const e = new Error(data.error?.message || `HTTP ${res.status}`);
    e.code = data.error?.code;
    throw e;
  }
  return data;
}

// ---------------------------------------------------------------------------------------------------- formatting
function ago(iso) {
  if (!iso) return t('none');
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return t('ago.s', { n: s });
  if (s < 7200) return t('ago.m', { n: Math.round(s / 60) });
  if (s < 172800) return t('ago.h', { n: Math.round(s / 3600) });
  return t('ago.d', { n: Math.round(s / 86400) });
}
function when(iso) {
  if (!iso) return t('none');
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(getLang() === 'ru' ? 'ru-RU' : 'en-GB');
}
function stateCell(state) {
  if (state === 'online') return pill('ok', t('state.online'));
  if (state === 'offline') return pill('bad', t('state.offline'));
  return pill('warn', t('state.unknown'));
}
function boolCell(v, yes, no) {
  if (v === null || v === undefined) return t('none');
  return v ? pill('ok', yes) : pill('bad', no);
}
function alertPills(alerts) {
  return alerts.map((a) => h('span', { class: `pill ${a.severity === 'critical' ? 'bad' : 'warn'}`, title: a.message, dataset: { alert: a.alert } }, t(`alert.${a.alert}`)));
}

// ---------------------------------------------------------------------------------------------------- login
function loginPage(setup) {
  const m = main();
  m.replaceChildren();
  const err = h('div', { class: 'field-error', id: 'login-error' });
  const pw = h('input', { type: 'password', id: 'password', name: 'password', autocomplete: setup ? 'new-password' : 'current-password', required: true });
  const pw2 = setup ? h('input', { type: 'password', id: 'password2', autocomplete: 'new-password', required: true }) : null;
  const form = h(
    'form',
    { class: 'card login', id: setup ? 'setup-form' : 'login-form' },
    h('h1', {}, t(setup ? 'setup.title' : 'login.title')),
    setup ? h('p', { class: 'hint' }, t('setup.hint')) : null,
    h('div', { class: 'row' }, h('label', { for: 'password' }, t(setup ? 'setup.password' : 'login.password')), pw),
    setup ? h('div', { class: 'row' }, h('label', { for: 'password2' }, t('setup.repeat')), pw2) : null,
    err,
    h('button', { type: 'submit' }, t(setup ? 'setup.submit' : 'login.submit')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    if (setup && pw.value !== pw2.value) return void (err.textContent = t('setup.mismatch'));
    try {
      const r = await api('POST', setup ? '/api/setup' : '/api/login', { password: pw.value });
      S.csrf = r.csrf;
      document.getElementById('logout').hidden = false;
      route();
    } catch (e2) {
      err.textContent = e2.code === 'THROTTLED' ? t('err.throttled') : e2.code === 'WEAK_PASSWORD' ? t('setup.weak') : e2.code === 'BAD_PASSWORD' ? t('login.bad') : e2.message;
    }
  });
  m.append(form);
  pw.focus();
}

// ---------------------------------------------------------------------------------------------------- the list
const COLUMNS = [
  { key: 'gateway_id', label: 'col.gateway' },
  { key: 'state', label: 'col.state' },
  { key: 'problem', label: 'col.alerts' },
  { key: 'queue_depth', label: 'col.queue', num: true },
  { key: 'register_up', label: 'col.register' },
  { key: 'paper_ok', label: 'col.paper' },
  { key: 'shift_open_hours', label: 'col.shift', num: true },
  { key: 'fn_days_left', label: 'col.fn', num: true },
  { key: 'ofd_unsent', label: 'col.ofd', num: true },
  { key: 'zreport_last', label: 'col.z' },
  { key: 'last_seen', label: 'col.seen' },
];

function sortValue(g, key) {
  if (key === 'state') return g.state === 'online' ? 1 : g.state === 'offline' ? -1 : 0;
  if (key === 'problem') return g.problem * 1000 + g.alerts.length;
  const v = g[key];
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

/** sorted by the chosen column; ties (and the default) put problems first, then offline, then by id */
function sorted(list) {
  const { key, dir } = S.sort;
  return [...list].sort((a, b) => {
    const va = sortValue(a, key);
    const vb = sortValue(b, key);
    if (va !== vb) {
      if (va === null || va === undefined) return 1;
      if (vb === null || vb === undefined) return -1;
      return (va < vb ? -1 : 1) * dir;
    }
    if (a.problem !== b.problem) return b.problem - a.problem;
    return a.gateway_id.localeCompare(b.gateway_id);
  });
}

function visible(list) {
  const q = S.filter.trim().toLowerCase();
  return list.filter((g) => {
    if (S.show === 'problems' && g.problem === 0) return false;
    if (S.show === 'offline' && g.state === 'online') return false;
    if (S.show === 'online' && g.state !== 'online') return false;
    if (!q) return true;
    return [g.gateway_id, g.model, ...g.alerts.map((a) => t(`alert.${a.alert}`)), ...g.alerts.map((a) => a.alert)].some((s) => s && String(s).toLowerCase().includes(q));
  });
}

function renderList() {
  const m = main();
  const list = S.data?.gateways ?? [];
  const filter = h('input', { type: 'search', id: 'filter', value: S.filter, placeholder: 'shop-…' });
  filter.addEventListener('input', () => {
    S.filter = filter.value;
    renderRows();
  });
  const show = h('select', { id: 'show' }, ...['all', 'problems', 'offline', 'online'].map((v) => h('option', { value: v, selected: S.show === v }, t(`list.${v}`))));
  show.addEventListener('change', () => {
    S.show = show.value;
    renderRows();
  });
  const head = h('tr', {}, ...COLUMNS.map((c) => {
    const th = h('th', { class: `sortable${c.num ? ' num' : ''}`, dataset: { key: c.key }, 'aria-sort': S.sort.key === c.key ? (S.sort.dir > 0 ? 'ascending' : 'descending') : undefined }, t(c.label));
    th.addEventListener('click', () => {
      S.sort = S.sort.key === c.key ? { key: c.key, dir: -S.sort.dir } : { key: c.key, dir: c.key === 'problem' ? -1 : 1 };
      renderList();
    });
    return th;
  }));
  const problems = list.filter((g) => g.problem > 0).length;
  const offline = list.filter((g) => g.state !== 'online').length;
  m.replaceChildren(
    h('h1', {}, t('list.title')),
    h('div', { class: 'spaced' }, h('span', { class: 'count', id: 'count-total' }, t('list.total', { n: list.length })), h('span', { class: 'count', id: 'count-problems' }, t('list.withProblems', { n: problems })), h('span', { class: 'count' }, t('list.offlineCount', { n: offline }))),
    h('div', { class: 'toolbar' }, h('label', {}, t('list.filter'), filter), h('label', {}, t('list.show'), show)),
    h('table', { id: 'gateways' }, h('thead', {}, head), h('tbody', { id: 'rows' })),
    h('p', { class: 'muted', id: 'list-empty', hidden: true }),
  );
  renderRows();
}

function renderRows() {
  const body = document.getElementById('rows');
  if (!body) return;
  const all = S.data?.gateways ?? [];
  const list = sorted(visible(all));
  body.replaceChildren(...list.map((g) => {
    const tr = h(
      'tr',
      { class: `gw problem-${g.problem}`, dataset: { gateway: g.gateway_id } },
      h('td', {}, h('a', { href: `#/gw/${encodeURIComponent(g.gateway_id)}` }, g.gateway_id), g.model ? h('div', { class: 'hint' }, g.model) : null),
      h('td', {}, stateCell(g.state)),
      h('td', { class: 'alerts-cell' }, g.alerts.length ? alertPills(g.alerts) : t('none')),
      h('td', { class: 'num' }, dash(g.queue_depth)),
      h('td', {}, boolCell(g.register_up, t('up'), t('down'))),
      h('td', {}, boolCell(g.paper_ok, t('paper.ok'), t('paper.out'))),
      h('td', { class: 'num' }, dash(g.shift_open_hours)),
      h('td', { class: 'num' }, dash(g.fn_days_left)),
      h('td', { class: 'num' }, g.ofd_unsent ? `${g.ofd_unsent}${g.ofd_oldest_days ? ` (${g.ofd_oldest_days} d)` : ''}` : dash(g.ofd_unsent)),
      h('td', {}, when(g.zreport_last)),
      h('td', { title: g.last_seen }, ago(g.last_seen)),
    );
    tr.addEventListener('click', (e) => {
      if (e.target.closest('a')) return;
      location.hash = `#/gw/${encodeURIComponent(g.gateway_id)}`;
    });
    return tr;
  }));
  const empty = document.getElementById('list-empty');
  empty.hidden = list.length > 0;
  empty.textContent = all.length === 0 ? t('list.empty') : t('list.none');
}

async function listPage() {
  if (!S.data) main().replaceChildren(h('p', { class: 'muted' }, '…'));
  S.data = await api('GET', '/api/gateways');
  renderList();
  schedule(async () => {
    S.data = await api('GET', '/api/gateways');
    // keep the toolbar (and the focus in the search field); redraw the counts and rows only
    if (document.getElementById('rows')) {
      const focused = document.activeElement?.id;
      renderList();
      if (focused) document.getElementById(focused)?.focus();
    }
  });
}

// ---------------------------------------------------------------------------------------------------- the detail
function dl(rows) {
  return h('dl', {}, ...rows.filter(Boolean).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v instanceof Node ? v : dash(v))]));
}

function renderDetail(d) {
  const hl = d.health || {};
  const reg = hl.register || {};
  const fw = hl.fn_watch || {};
  const ofd = fw.ofd || {};
  const q = hl.queue || {};
  const shift = hl.shift || {};
  const sc = hl.shift_clock || {};
  const zrows = (d.zreports || []).map((z) =>
    h('tr', {}, h('td', { class: 'num' }, dash(z.shift_number)), h('td', { class: 'num' }, dash(z.fiscal_document_number)), h('td', {}, dash(z.datetime)), h('td', { class: 'num' }, dash(z.receipts_count)), h('td', { class: 'num' }, dash(z.total)), h('td', {}, when(z.received_at))),
  );
  main().replaceChildren(
    h('p', {}, h('a', { href: '#/', id: 'back' }, t('d.back'))),
    h('h1', { id: 'detail-title' }, t('d.title', { id: d.gateway_id })),
    h(
      'div',
      { class: 'grid spaced' },
      h('div', { class: 'card', id: 'card-state' }, h('h2', {}, t('d.state')), dl([
        [t('d.state'), stateCell(d.state)],
        [t('col.seen'), ago(d.last_seen)],
        [t('d.stateAt'), when(d.state_at)],
        [t('d.healthAt'), when(d.health_at)],
        [t('d.version'), hl.version],
        [t('d.uptime'), hl.uptime_s],
      ])),
      h('div', { class: 'card', id: 'card-alerts' }, h('h2', {}, t('d.alerts')), d.alerts.length
        ? h('ul', {}, ...d.alerts.map((a) => h('li', { dataset: { alert: a.alert } }, pill(a.severity === 'critical' ? 'bad' : 'warn', t(`alert.${a.alert}`)), ' ', a.message, ' ', h('span', { class: 'muted' }, t('d.since', { t: when(a.since) })))))
        : h('p', { class: 'muted' }, t('d.noAlerts'))),
      h('div', { class: 'card', id: 'card-register' }, h('h2', {}, t('d.register')), dl([
        [t('d.link'), boolCell(d.register_up, t('up'), t('down'))],
        [t('d.model'), reg.model],
        [t('d.serial'), reg.serial],
        [t('d.protocol'), reg.protocol],
        [t('d.lastOk'), when(reg.last_ok)],
        reg.error ? [t('d.error'), reg.error] : null,
      ])),
      h('div', { class: 'card', id: 'card-shift' }, h('h2', {}, t('d.shiftCard')), dl([
        [t('d.paper'), boolCell(d.paper_ok, t('paper.ok'), t('paper.out'))],
        [t('d.shift'), shift.state ? t(`shift.${shift.state}`) : null],
        [t('d.shiftNumber'), shift.number],
        [t('d.hoursOpen'), sc.hours_open],
        [t('d.nextClose'), sc.next_close],
      ])),
      h('div', { class: 'card', id: 'card-fn' }, h('h2', {}, t('d.fn')), dl([
        [t('d.fnNumber'), hl.fn?.number],
        [t('d.fnExpiry'), fw.expiry],
        [t('d.daysLeft'), fw.days_left],
        [t('d.unsent'), ofd.unsent_count ?? hl.fn?.unsent_count],
        [t('d.oldestDays'), ofd.oldest_age_days],
      ])),
      h('div', { class: 'card', id: 'card-queue' }, h('h2', {}, t('d.queue')), dl([
        [t('d.depth'), q.depth],
        [t('d.oldest'), q.oldest_age_s],
        q.blocked ? [t('d.blocked'), `${q.blocked.code}: ${q.blocked.message}`] : null,
        [t('d.mqtt'), hl.mqtt ? (hl.mqtt.connected ? t('yes') : t('no')) : null],
      ])),
    ),
    h('h2', {}, t('d.z')),
    zrows.length
      ? h('table', { id: 'zreports', class: 'spaced' }, h('thead', {}, h('tr', {}, h('th', { class: 'num' }, t('d.zShift')), h('th', { class: 'num' }, t('d.zFd')), h('th', {}, t('d.zDate')), h('th', { class: 'num' }, t('d.zCount')), h('th', { class: 'num' }, t('d.zTotal')), h('th', {}, t('d.zReceived')))), h('tbody', {}, zrows))
      : h('p', { class: 'muted spaced', id: 'zreports-none' }, t('d.zNone')),
    h('h2', {}, t('d.health')),
    h('pre', { id: 'health-json' }, JSON.stringify(d.health, null, 2)),
  );
}

async function detailPage(id) {
  const load = async () => {
    try {
      renderDetail(await api('GET', `/api/gateways/${encodeURIComponent(id)}`));
    } catch (e) {
      if (e.code === 'NOT_FOUND') main().replaceChildren(h('p', {}, h('a', { href: '#/' }, t('d.back'))), h('p', { class: 'muted' }, t('d.notFound')));
      else throw e;
    }
  };
  await load();
  schedule(load);
}

// ---------------------------------------------------------------------------------------------------- routing
function schedule(fn) {
  clearInterval(S.timer);
  S.timer = setInterval(() => void fn().catch(() => undefined), 5000);
}

function route() {
  clearInterval(S.timer);
  const m = /^#\/gw\/(.+)$/.exec(location.hash);
  for (const a of document.querySelectorAll('#nav a[data-page]')) a.classList.toggle('active', !m);
  (m ? detailPage(decodeURIComponent(m[1])) : listPage()).catch(() => undefined);
}

async function start() {
  clearInterval(S.timer);
  const s = await api('GET', '/api/session');
  S.loginRequired = s.login_required;
  S.csrf = s.csrf || '';
  document.getElementById('logout').hidden = !(s.login_required && s.authenticated);
  if (s.login_required && s.setup_required) return loginPage(true);
  if (s.login_required && !s.authenticated) return loginPage(false);
  route();
}

document.getElementById('lang').addEventListener('click', () => {
  setLang(getLang() === 'ru' ? 'en' : 'ru');
  translateStatic();
  start().catch(() => undefined);
});
document.getElementById('logout').addEventListener('click', async () => {
  await api('POST', '/api/logout', {}).catch(() => undefined);
  S.csrf = '';
  S.data = null;
  start().catch(() => undefined);
});
window.addEventListener('hashchange', () => {
  if (!S.loginRequired || S.csrf) route();
});
setLang(getLang());
translateStatic();
start().catch(() => undefined);
