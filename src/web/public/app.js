/*
 * kkt-gateway local web page: the shell (session, header, router) over one ES module per page and the shared
 * common.js (API, formatting, ru/en). Plain ES modules, no build step.
 */
import { S, api, applyLang, banner, h, mount, onReboot, stopLive, t } from './common.js';
import './pool.js';
import { renderSetup, renderLogin } from './login.js';
import { renderStatus } from './status.js';
import { renderSettings } from './settings.js';
import { renderZReports } from './zreports.js';
import { renderJournal, renderReceipt } from './journal.js';
import { renderManual } from './manual.js';
import { renderLogs } from './logs.js';
import { renderUsers } from './users.js';
import { renderAudit } from './audit.js';

// ---------------------------------------------------------------------------------------------------- shell



async function boot() {
  const r = await api('GET', '/api/session');
  if (!r.ok) {
    mount(h('p', { class: 'bad' }, t('err.network')));
    return;
  }
  S.session = r.data;
  S.csrf = r.data.csrf || '';
  applyLang();
  const top = document.getElementById('top');
  if (r.data.setup_required) {
    top.hidden = true;
    stopLive();
    return renderSetup();
  }
  if (!r.data.authenticated) {
    top.hidden = true;
    stopLive();
    return renderLogin();
  }
  top.hidden = false;
  // a cashier sees only the pages she may use
  for (const a of document.querySelectorAll('#nav a[data-admin]')) a.hidden = r.data.role !== 'admin';
  document.getElementById('whoami').textContent = r.data.user ? `${r.data.user} (${t(`role.${r.data.role}`)})` : '';
  banner(r.data.safe_mode ? t('safe.banner') : '');
  if (!location.hash || location.hash === '#/login') location.hash = r.data.safe_mode ? '#/settings' : '#/status';
  await kktPool.load();
  route();
}

function route() {
  if (!S.session || !S.session.authenticated) return;
  stopLive();
  const page = (location.hash.replace(/^#\//, '').split('/')[0]) || 'status';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  const pages = { status: renderStatus, settings: renderSettings, zreports: renderZReports, journal: renderJournal, receipt: renderReceipt, manual: renderManual, logs: renderLogs, users: renderUsers, audit: renderAudit };
  (pages[page] || renderStatus)();
}

// ---------------------------------------------------------------------------------------------------- start
window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', () => {
  kktPool.onDeviceChange(() => route());
  document.getElementById('lang').addEventListener('click', () => {
    S.lang = S.lang === 'ru' ? 'en' : 'ru';
    localStorage.setItem('lang', S.lang);
    applyLang();
    route();
  });
  document.getElementById('logout').addEventListener('click', async () => {
    await api('POST', '/api/logout');
    S.csrf = '';
    location.hash = '';
    await boot();
  });
  void boot();
});

onReboot(boot);
