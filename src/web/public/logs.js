/* kkt-gateway local web page: the logs page. Every text from the server is set with textContent. */
import { S, api, fmtTime, h, mount, t } from './common.js';

// ---------------------------------------------------------------------------------------------------- logs
export async function renderLogs() {
  const lvl = h('select', { id: 'logs-level' }, ['debug', 'info', 'warn', 'error'].map((l) => h('option', { value: l, selected: l === 'info' }, l)));
  const list = h('div', { id: 'logs' });
  const load = async () => {
    const r = await api('GET', `/api/logs?level=${lvl.value}`);
    if (!r.ok) return;
    const names = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
    list.replaceChildren(...(r.data.lines.length ? r.data.lines.map((l) => {
      const { level: lv, time, msg, pid: _p, hostname: _h, ...rest } = l;
      const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
      return h('div', { class: `log-line ${lv >= 50 ? 'bad' : lv >= 40 ? 'warn' : ''}` }, `${time ? fmtTime(time) : ''} ${names[lv] || lv} ${msg || ''}${extra}`);
    }) : [h('p', { class: 'muted' }, t('logs.empty'))]));
  };
  lvl.addEventListener('change', load);
  const refresh = h('button', { type: 'button', class: 'secondary' }, t('logs.refresh'));
  refresh.addEventListener('click', load);
  mount(h('h1', {}, t('logs.title')), h('div', { class: 'toolbar' }, h('label', {}, t('logs.level'), lvl), refresh), h('div', { class: 'card' }, list));
  await load();
  S.timers.push(setInterval(load, 5000));
}
