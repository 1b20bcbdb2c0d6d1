/*
 * kkt-gateway local web page: «Выбор кассы ККМ», the register the status, «проверить связь», settings and Z-report
 * pages are about when the gateway has a pool of several registers (hidden with one). An ES module; also on
 * window.kktPool for the page's classic script. Every text from the server is set with textContent.
 */

const DICT = {
  ru: { label: 'Выбор кассы ККМ', column: 'Касса', pin: 'Только на выбранной кассе' },
  en: { label: 'Register', column: 'Register', pin: 'Only on the selected register' },
};

const state = { devices: [], current: localStorage.getItem('device') || '', listeners: [], select: null, label: null };

const lang = () => (document.documentElement.lang === 'en' ? 'en' : 'ru');
/** this module's own words */
export const tr = (key) => DICT[lang()][key] || DICT.ru[key] || key;

/** the registers of the gateway: [{ id, name, port, protocol }] */
export const devices = () => state.devices;
/** several registers: the selector is shown and the journal names the register */
export const multi = () => state.devices.length > 1;

/** the selected register's id (the first register until one is chosen); undefined before load() or without any */
export function currentDevice() {
  if (state.devices.some((d) => d.id === state.current)) return state.current;
  return state.devices[0] ? state.devices[0].id : undefined;
}

/** a register's name as the page shows it (its id when it has none; '' for none) */
export function deviceName(id) {
  if (!id) return '';
  const d = state.devices.find((x) => x.id === id);
  return d && d.name ? d.name : String(id);
}

/** fn() after the selected register changed */
export function onDeviceChange(fn) {
  state.listeners.push(fn);
}

export function selectDevice(id) {
  if (!state.devices.some((d) => d.id === id) || id === currentDevice()) return;
  state.current = id;
  localStorage.setItem('device', id);
  if (state.select) state.select.value = id;
  for (const fn of state.listeners) fn(id);
}

/** `?device=<id>` (or `&device=…` with prefix '&') for a GET about the selected register */
export function query(prefix = '?') {
  const d = currentDevice();
  return d ? `${prefix}device=${encodeURIComponent(d)}` : '';
}

/** a request body naming the selected register */
export function body(extra = {}) {
  const d = currentDevice();
  return d ? { ...extra, device: d } : { ...extra };
}

/**
 * The status as the status page shows it: the selected register's health section over the gateway's top level
 * (which is the first register's), so the cards are that register's while MQTT and the queue stay the gateway's.
 */
export function statusFor(st) {
  const hl = st && st.health;
  const regs = hl && Array.isArray(hl.registers) ? hl.registers : [];
  const sec = regs.find((r) => r.id === currentDevice());
  if (!sec || regs.length < 2) return st;
  const { blocked, ...rest } = sec;
  return { ...st, health: { ...hl, ...rest, queue: { ...hl.queue, blocked: blocked || null } } };
}

/** ' — <name>' after a page title when there are several registers */
export const titleSuffix = () => (multi() ? ` — ${deviceName(currentDevice())}` : '');

/** the journal's «Касса» column: its header cells and a record's cell (none with one register) */
export function journalHead() {
  return multi() ? [cell('th', tr('column'))] : [];
}
export function journalCell(rec) {
  if (!multi()) return '';
  const id = rec && rec.result && rec.result.device;
  const td = cell('td', deviceName(id));
  td.className = 'device';
  if (id) td.dataset.device = id;
  return td;
}

/** the manual receipt's «only on the selected register» box, and the receipt with its `device` pin when ticked */
export function pinChoice() {
  if (!multi()) return '';
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.id = 'm-pin-device';
  const label = document.createElement('label');
  label.className = 'choice';
  label.append(box, ` ${tr('pin')}: ${deviceName(currentDevice())}`);
  return label;
}
export function pinned(receipt) {
  const box = document.getElementById('m-pin-device');
  return box && box.checked && currentDevice() ? { ...receipt, device: currentDevice() } : receipt;
}

function cell(tag, text) {
  const el = document.createElement(tag);
  el.textContent = text;
  return el;
}

function picker() {
  if (state.select) return;
  const top = document.getElementById('top');
  if (!top) return;
  state.select = document.createElement('select');
  state.select.id = 'device-select';
  state.select.addEventListener('change', () => selectDevice(state.select.value));
  state.label = document.createElement('span');
  const wrap = document.createElement('label');
  wrap.id = 'device-picker';
  wrap.className = 'device-picker';
  wrap.append(state.label, ' ', state.select);
  const nav = document.getElementById('nav');
  if (nav) nav.after(wrap);
  else top.append(wrap);
  // the page's language switch sets <html lang>
  new MutationObserver(() => (state.label.textContent = tr('label'))).observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
}

/** reads the gateway's registers and shows the selector (hidden with one register) */
export async function load() {
  try {
    const res = await fetch('/api/devices', { credentials: 'same-origin' });
    if (res.ok) state.devices = ((await res.json()).devices || []).filter((d) => d && typeof d.id === 'string');
  } catch {
    /* the pages work on the gateway's defaults */
  }
  picker();
  if (!state.select) return;
  state.label.textContent = tr('label');
  state.select.replaceChildren(...state.devices.map((d) => {
    const o = document.createElement('option');
    o.value = d.id;
    o.textContent = d.name ? `${d.name} (${d.id})` : d.id;
    return o;
  }));
  const cur = currentDevice();
  if (cur) state.select.value = cur;
  document.getElementById('device-picker').hidden = !multi();
}

window.kktPool = { tr, devices, multi, currentDevice, deviceName, onDeviceChange, selectDevice, query, body, statusFor, titleSuffix, journalHead, journalCell, pinChoice, pinned, load };
