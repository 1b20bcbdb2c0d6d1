/* kkt-gateway local web page: the status page and «проверить связь». Every text from the server is set with textContent. */
import { S, api, banner, dash, dl, errText, fmtTime, h, mount, pill, t } from './common.js';

// ---------------------------------------------------------------------------------------------------- status
export function level(l) {
  return l === 'critical' ? 'bad' : l === 'warn' ? 'warn' : 'ok';
}

/** «Закрепить протокол»: saves the protocol that answered as `device.protocol` (no more asking at every open) */
function pinBox(reg) {
  // a setting: the admin's
  if (reg.protocol_setting !== 'auto' || !reg.protocol || !S.session || S.session.role !== 'admin') return '';
  // the outcome outlives the live re-renders of the status page
  const show = (o) => o ? pill(o.ok ? 'ok' : 'bad', o.text) : '';
  const out = h('span', { class: 'result', id: 'pin-result' }, show(S.pinResult));
  const btn = h('button', { type: 'button', id: 'pin-protocol' }, t('status.pin').replace('{p}', reg.protocol));
  btn.addEventListener('click', async () => {
    const cr = await api('GET', `/api/config${kktPool.query()}`);
    if (!cr.ok) S.pinResult = { ok: false, text: errText(cr.data && cr.data.error) };
    else {
      const cfg = cr.data.config || {};
      cfg.device = { ...(cfg.device || {}), protocol: reg.protocol };
      const r = await api('PUT', '/api/config', kktPool.body({ config: cfg }));
      S.pinResult = r.ok ? { ok: true, text: t('status.pinned') } : { ok: false, text: errText(r.data && r.data.error) };
    }
    const now = document.getElementById('pin-result');
    if (now) now.replaceChildren(show(S.pinResult));
  });
  return h('p', {}, btn, ' ', out);
}

function statusView(st, checkBox) {
  const hl = st.health;
  const cards = [];
  if (st.safe_mode) {
    cards.push(h('div', { class: 'card' }, h('h2', { class: 'bad' }, t('safe.banner')), h('ul', {}, st.safe_mode.problems.map((p) => h('li', {}, `${p.field}: ${p.message}`)))));
  }
  if (hl) {
    const reg = hl.register || {};
    cards.push(h('div', { class: 'card', id: 'card-register' }, h('h2', {}, t('status.register')), dl([
      [t('status.link'), pill(reg.link === 'up' ? 'ok' : 'bad', reg.link === 'up' ? t('status.up') : t('status.down'))],
      [t('status.lastOk'), fmtTime(reg.last_ok)],
      [t('status.model'), reg.model], [t('status.serial'), reg.serial], [t('status.protocol'), reg.protocol && (reg.protocol_setting === 'auto' ? `${reg.protocol} (${t('status.protocolAuto')})` : reg.protocol)],
      reg.error && [t('status.linkError'), reg.error],
      [t('status.paper'), hl.paper === null || hl.paper === undefined ? null : pill(hl.paper === 'ok' || hl.paper === true ? 'ok' : 'bad', hl.paper === 'ok' || hl.paper === true ? t('status.paperOk') : t('status.paperOut'))],
      [t('status.cover'), hl.cover_open === null || hl.cover_open === undefined ? null : hl.cover_open ? pill('bad', t('status.coverOpen')) : t('status.coverClosed')],
    ]), pinBox(reg), checkBox));
    const sh = hl.shift;
    const sc = hl.shift_clock;
    cards.push(h('div', { class: 'card', id: 'card-shift' }, h('h2', {}, t('status.shift')), dl([
      [t('status.shiftNumber'), sh && sh.number], [t('status.shiftState'), sh ? pill(sh.state === 'open' ? 'ok' : sh.state === 'expired' ? 'bad' : 'warn', t(`shift.${sh.state}`)) : null],
      [t('status.receipts'), sh && sh.receipts],
      [t('status.openedAt'), sc && sc.opened_at.replace('T', ' ')], [t('status.hoursLeft'), sc && sc.hours_left_24h], [t('status.nextClose'), sc && sc.next_close.replace('T', ' ')],
    ])));
    const fn = hl.fn;
    const fw = hl.fn_watch;
    cards.push(h('div', { class: 'card', id: 'card-fn' }, h('h2', {}, t('status.fn')), dl([
      [t('status.fnNumber'), fn && fn.number], [t('status.lastFd'), fn && fn.last_fd],
      [t('status.fnExpiry'), fw ? h('span', {}, dash(fw.expiry), ' ', fw.days_left !== null ? pill(level(fw.expiry_level), `${fw.days_left} ${t('status.daysLeft')}`) : '') : fn && fn.expiry],
      [t('status.unsent'), fw && fw.ofd ? pill(level(fw.ofd.level), String(dash(fw.ofd.unsent_count))) : fn && fn.unsent_count],
      [t('status.oldestUnsent'), fw && fw.ofd ? fw.ofd.oldest_unsent : fn && fn.unsent_since],
    ])));
    const rg = hl.registration;
    if (rg) {
      const modes = rg.register && rg.register.modes ? Object.entries(rg.register.modes).filter(([, v]) => v).map(([k]) => t(`mode.${k}`)).join(', ') : null;
      const zc = hl.zreport_check;
      cards.push(h('div', { class: 'card', id: 'card-registration' }, h('h2', {}, t('status.registration')), dl([
        [t('status.inn'), rg.inn], [t('status.rn'), rg.registration_number && `${rg.registration_number}${rg.source && rg.source.registrationNumber === 'config' ? ` (${t('status.fromConfig')})` : ''}`],
        [t('status.sno'), (rg.tax_systems || []).map((x) => t(`sno.${x}`)).join(', ')], [t('status.modes'), modes || (rg.register ? '—' : null)],
        ...(rg.warnings || []).map((w) => ['', h('span', { class: 'warn' }, w)]),
        zc && zc.mismatch && zc.mismatch.length ? [t('status.zMismatch'), pill('warn', zc.mismatch.map((m) => `${m.field}: ${m.register} ≠ ${m.gateway}`).join('; '))] : null,
      ])));
    }
    cards.push(h('div', { class: 'card', id: 'card-mqtt' }, h('h2', {}, t('status.mqtt')), dl([
      [t('status.connected'), pill(hl.mqtt.connected ? 'ok' : 'bad', hl.mqtt.connected ? t('common.yes') : t('common.no'))], [t('status.broker'), hl.mqtt.broker],
    ])));
    const q = hl.queue;
    cards.push(h('div', { class: 'card', id: 'card-queue' }, h('h2', {}, t('status.queue')), dl([
      [t('status.depth'), q.depth], [t('status.oldestAge'), q.oldest_age_s], [t('status.outbox'), q.outbox],
      q.blocked && [t('status.blocked'), pill('bad', `${q.blocked.code}: ${q.blocked.message}`)],
    ])));
    if (hl.clock) cards.push(h('div', { class: 'card' }, h('h2', {}, t('status.clock')), dl([[t('status.drift'), hl.clock.drift_s], hl.clock.warning && ['', hl.clock.warning]])));
  }
  const errs = st.last_errors || [];
  cards.push(h('div', { class: 'card', id: 'card-errors' }, h('h2', {}, t('status.errors')),
    errs.length === 0 ? h('p', { class: 'muted' }, t('status.noErrors')) : h('ul', {}, errs.slice().reverse().map((l) => h('li', {}, `${l.time ? fmtTime(l.time) : ''} ${l.msg || ''}${l.err && l.err.message ? ` — ${l.err.message}` : ''}`)))));
  return h('div', { class: 'grid' }, cards);
}

export function renderStatus() {
  const checkOut = h('div', { class: 'result', id: 'check-result' });
  const checkBtn = h('button', { type: 'button', id: 'check-link' }, t('status.check'));
  checkBtn.addEventListener('click', async () => {
    checkBtn.disabled = true;
    checkOut.textContent = t('status.checking');
    const r = await api('POST', '/api/check', kktPool.body());
    checkBtn.disabled = false;
    if (!r.ok) return void (checkOut.replaceChildren(pill('bad', errText(r.data && r.data.error))));
    const c = r.data;
    checkOut.replaceChildren(c.ok ? pill('ok', t('status.checkOk', { ms: c.ms })) : pill('bad', t('status.checkFail', { error: c.error })),
      c.ok && c.info ? dl([[t('status.model'), c.info.model], [t('status.serial'), c.info.serial], [t('status.fnNumber'), c.info.fnNumber], ['INN', c.info.inn], ['firmware', c.info.firmware]]) : '');
  });
  const checkBox = h('div', {}, h('p', {}), checkBtn, checkOut);
  const holder = h('div', { id: 'status-cards' });
  mount(h('h1', {}, t('status.title'), kktPool.titleSuffix()), holder);
  const paint = (st) => {
    S.status = st;
    if (st.health) document.getElementById('gw-id').textContent = `${st.health.gateway_id} · ${st.health.version}`;
    holder.replaceChildren(statusView(kktPool.statusFor(st), checkBox));
  };
  api('GET', '/api/status').then((r) => r.ok && paint(r.data));
  const es = new EventSource('/api/events');
  es.addEventListener('status', (ev) => paint(JSON.parse(ev.data)));
  S.events = es;
}
