/**
 * The local web page for installers and shop staff (contract §Local web page): a single page (src/web/public, no
 * build step) over a JSON API. `buildWebApp` makes the fastify instance without listening, so tests drive it with
 * inject(); `startWeb` listens.
 *
 * Security: nothing but the page's static files, /api/session, /api/setup (only while no password is set) and
 * /api/login answers without a session; the password is a salted scrypt hash; the session cookie is HttpOnly and
 * SameSite=Strict; every state-changing request carries a CSRF token bound to the session; login and setup are
 * throttled per address; secrets are sent to the browser as "***" only.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config, ConfigProblem } from '../config/index.ts';
import { ConfigError, saveConfig } from '../config/index.ts';
import type { LogRing, Logger } from '../log.ts';
import type { PortCandidate } from '../device/ports.ts';
import type { Gateway } from '../service.ts';
import type { RecordStatus } from '../queue/types.ts';
import { MIN_PASSWORD, type Session } from './auth.ts';
import { USERNAME, UserError, UserStore, type Role } from './users.ts';
import { SetupCodes, showCode, CODE_TTL_MS } from './setup-code.ts';
import { AuditLog, auditCsv, auditFileIn, type AuditEntry } from './audit.ts';
import { PRINT_SLIP } from '../gateway/runner.ts';
import { pageApp } from './page-app.ts';
import { applyLive, forBrowser, nextConfig, registerView, registersOfRaw, fromRegisterView } from './config-edit.ts';

/** the page's files: src/web/public from the sources, dist/public in the production bundle (scripts/build.mjs) */
export const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');
const COOKIE = 'kkt_session';

/** What the page needs of the running gateway. */
export type WebGateway = Pick<Gateway, 'config' | 'registers' | 'health' | 'checkLink' | 'submitReceipt' | 'submitCommand' | 'shiftBook' | 'currentFigures' | 'documentCopy' | 'republish' | 'store'>;

export interface WebDeps {
  logger: Logger;
  /** where the password hash lives (data directory) */
  authFile: string;
  /** the configuration file the settings page saves */
  configFile: string;
  /** the running gateway; absent in safe mode (the configuration could not be used) */
  gateway?: WebGateway;
  /** safe mode: why the gateway is not running, and the file's content as far as it could be read */
  safeMode?: { problems: ConfigProblem[]; raw?: unknown };
  ring?: LogRing;
  listPorts?: () => Promise<PortCandidate[]>;
  /** asks the process to restart (graceful stop; systemd starts it again) */
  restart?: () => void;
  now?: () => number;
  /** login/setup attempts per address per minute (default 5) */
  loginPerMinute?: number;
  /** status push period of /api/events (default 1 s) */
  eventsMs?: number;
  /** the page's users (default: web-users.json next to authFile, which is migrated into it as `admin`) */
  usersFile?: string;
  /** the audit log (default: web-audit.jsonl next to authFile) */
  auditFile?: string;
  /** prints the setup slip (default: an internal print_slip job on the gateway's register) */
  printSlip?: (lines: string[]) => Promise<void>;
  /** the page's TLS certificate's SHA-256 fingerprint, printed on the setup slip */
  tlsFingerprint?: string;
  /** the page is served over TLS: cookies are Secure */
  secure?: boolean;
  /** serve HTTPS with this certificate and key (PEM) */
  https?: { cert: string; key: string };
}

declare module 'fastify' {
  interface FastifyRequest {
    session?: Session;
  }
}

interface ApiError {
  code: string;
  message: string;
  problems?: ConfigProblem[];
  field?: string;
}

function send(reply: FastifyReply, status: number, error: ApiError): FastifyReply {
  return reply.code(status).send({ error });
}

const OPEN_ROUTES = new Set(['/api/session', '/api/setup', '/api/setup/code', '/api/login']);

/**
 * What a cashier may do (status, «проверить связь», journal, manual receipts, Z/X reports, cash in/out, their own
 * password); every other API route is the admin's. Keys: "METHOD route-pattern".
 */
const CASHIER_ROUTES = new Set([
  'GET /api/status', 'GET /api/events', 'GET /api/devices', 'POST /api/check', 'GET /api/config', 'GET /api/zreports', 'POST /api/zreports',
  'POST /api/commands', 'GET /api/receipts', 'POST /api/receipts', 'GET /api/receipts/:id', 'GET /api/receipts/:id/fn-copy',
  'POST /api/logout', 'POST /api/password',
]);
/** a "YYYY-MM-DD" filter: the day's start (or, with `end`, the next day's start) in local time */
function day(s: string | undefined, end: boolean): number | undefined {
  if (!s || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return undefined;
  const t = new Date(`${s}T00:00:00`).getTime();
  return end ? t + 24 * 3600_000 : t;
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export async function buildWebApp(d: WebDeps): Promise<FastifyInstance> {
  const now = d.now ?? Date.now;
  const { app, sessions, sessionOf } = await pageApp({
    logger: d.logger, part: 'web', bodyLimit: 1024 * 1024, publicDir: PUBLIC_DIR, cookie: COOKIE, authFile: d.authFile, now,
    userOf: (req) => req.session?.id ?? '', ...(d.secure ? { secure: true } : {}), ...(d.https ? { https: d.https } : {}),
  });
  const dataDir = path.dirname(d.authFile);
  const users = new UserStore(d.usersFile ?? path.join(dataDir, 'web-users.json'), d.authFile);
  const codes = new SetupCodes(now);
  const retention = (): number => d.gateway?.config.queue.retention_days ?? 30;
  const auditLog = new AuditLog(d.auditFile ?? auditFileIn(dataDir), retention, now);
  await auditLog.start().catch((err: unknown) => d.logger.warn({ err }, 'web: audit log could not be pruned'));
  app.addHook('onClose', async () => auditLog.stop());
  /** one audit entry for this request's user and address */
  const audit = (req: FastifyRequest, action: string, outcome: AuditEntry['outcome'], detail?: Record<string, unknown>, user?: { name: string; role: Role | null }): Promise<unknown> =>
    auditLog.record({ user: user?.name ?? req.session?.user ?? null, role: user?.role ?? req.session?.role ?? null, ip: req.ip, action, outcome, ...(detail ? { detail } : {}) })
      .catch((err: unknown) => d.logger.error({ err, action }, 'web: audit entry could not be written'));
  /** a queued job's end, written to the audit log when it comes (the FD of a manual receipt, the Z-report's number) */
  const follow = (req: FastifyRequest, action: string, id: string): void => {
    const g = d.gateway;
    if (!g) return;
    const who = req.session?.user && req.session.role ? { name: req.session.user, role: req.session.role } : undefined;
    const end = now() + 10 * 60_000;
    const tick = async (): Promise<void> => {
      const rec = await g.store.getRecord(id).catch(() => undefined);
      if (rec && rec.status !== 'accepted') {
        const res = rec.result as { payload?: { fiscal_document_number?: number; fiscal_document_attribute?: number }; data?: { fdNumber?: number; shiftNumber?: number }; error?: unknown; device?: string } | undefined;
        const fd = res?.payload?.fiscal_document_number ?? res?.data?.fdNumber;
        await audit(req, `${action}_result`, rec.status === 'done' ? 'ok' : 'failed', { external_id: id, ...(fd !== undefined ? { fd } : {}), ...(res?.device ? { device: res.device } : {}), ...(rec.status === 'fail' && res?.error ? { error: res.error } : {}) }, who);
        return;
      }
      if (now() < end) setTimeout(() => void tick(), 500).unref();
    };
    setTimeout(() => void tick(), 300).unref();
  };

  // authentication for every API route but the open ones; CSRF for every state-changing one
  app.addHook('onRequest', async (req, reply) => {
    const url = req.url.split('?')[0] ?? '';
    if (!url.startsWith('/api/')) return;
    if (OPEN_ROUTES.has(url)) return;
    if (!(await users.any())) return send(reply, 403, { code: 'SETUP_REQUIRED', message: 'set the password first' });
    const session = sessionOf(req);
    if (!session) return send(reply, 401, { code: 'UNAUTHENTICATED', message: 'log in first' });
    req.session = session;
    // a session of a user removed since is over
    const user = session.user ? await users.get(session.user) : undefined;
    if (!user) {
      sessions.delete(session.id);
      return send(reply, 401, { code: 'UNAUTHENTICATED', message: 'log in first' });
    }
    session.role = user.role;
    if (user.role !== 'admin' && !CASHIER_ROUTES.has(`${req.method} ${req.routeOptions.url ?? url}`)) {
      await audit(req, 'forbidden', 'refused', { route: `${req.method} ${url}` });
      return send(reply, 403, { code: 'FORBIDDEN', message: 'an admin may do this; you are logged in as a cashier' });
    }
  });
  const csrf = (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    app.csrfProtection(req, reply, done);
  };
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) d.logger.error({ err }, 'web request failed');
    const code = err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET' ? 'CSRF' : status === 429 ? 'THROTTLED' : status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
    return send(reply, status, { code, message: status >= 500 ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/api/')) return send(reply, 404, { code: 'NOT_FOUND', message: 'no such route' });
    return reply.sendFile('index.html');
  });

  const startSession = async (reply: FastifyReply, who: { name: string; role: Role }): Promise<{ csrf: string; user: string; role: Role }> => {
    const s = sessions.create({ user: who.name, role: who.role });
    reply.setCookie(COOKIE, s.id, { signed: true, httpOnly: true, sameSite: 'strict', path: '/', ...(d.secure ? { secure: true } : {}) });
    // the CSRF token is bound to this session's id
    return { csrf: reply.generateCsrf({ userInfo: s.id }), user: who.name, role: who.role };
  };
  const throttle = { config: { rateLimit: { max: d.loginPerMinute ?? 5, timeWindow: 60_000 } } };
  const passwordOf = (body: unknown): string | undefined => {
    const p = (body as { password?: unknown } | undefined)?.password;
    return typeof p === 'string' ? p : undefined;
  };

  // ---- session ---------------------------------------------------------------------------------------------------
  app.get('/api/session', async (req, reply) => {
    const setup = !(await users.any());
    let session = setup ? undefined : sessionOf(req);
    const user = session?.user ? await users.get(session.user) : undefined;
    if (!user) session = undefined;
    return reply.send({
      setup_required: setup,
      ...(setup ? { setup_code_pending: codes.pending() } : {}),
      authenticated: session !== undefined,
      safe_mode: d.safeMode !== undefined,
      ...(session && user ? { csrf: reply.generateCsrf({ userInfo: session.id }), user: user.name, role: user.role } : {}),
    });
  });

  // the first-run claim: a one-time code printed on the register (a non-fiscal slip) and written to the log
  const printSlip = d.printSlip ?? (async (lines: string[]): Promise<void> => {
    const g = d.gateway;
    if (!g) throw new Error('the gateway is in safe mode: no register to print on (read the code in the log)');
    const device = g.registers[0]?.id;
    // an internal job: the register prints it between receipts, never during one
    await g.store.accept({ kind: 'command', command: PRINT_SLIP, params: { lines, ...(device !== undefined ? { device } : {}) }, body: '' });
    for (const r of g.registers) r.dispatcher.nudge();
  });
  app.post('/api/setup/code', throttle, async (req, reply) => {
    if (await users.any()) return send(reply, 409, { code: 'ALREADY_SET', message: 'the password is already set; log in' });
    const code = codes.issue();
    const shown = showCode(code);
    // once per code, for installers without paper (journald)
    d.logger.info({ setup_code: shown, expires_in_min: CODE_TTL_MS / 60_000 }, `web: setup code ${shown} (valid ${CODE_TTL_MS / 60_000} min)`);
    const fp = d.tlsFingerprint;
    const lines = [
      'kkt-gateway', 'КОД НАСТРОЙКИ / SETUP CODE', shown, `действует ${CODE_TTL_MS / 60_000} мин / valid ${CODE_TTL_MS / 60_000} min`,
      ...(fp ? ['SHA-256 сертификата / of the certificate:', ...(fp.match(/.{1,36}/g) ?? [])] : []),
      'НЕ ФИСКАЛЬНЫЙ ДОКУМЕНТ', '',
    ];
    let printed: 'queued' | 'failed' = 'queued';
    let error: string | undefined;
    try {
      await printSlip(lines);
    } catch (err) {
      printed = 'failed';
      error = (err as Error).message;
      d.logger.warn({ err: { message: error } }, 'web: the setup slip could not be queued; the code is in the log');
    }
    await audit(req, 'setup_code', printed === 'queued' ? 'ok' : 'failed', { printed, ...(error ? { error } : {}) });
    return reply.send({ printed, ...(error ? { error } : {}), expires_in_s: CODE_TTL_MS / 1000, ...(fp ? { fingerprint: fp } : {}) });
  });

  app.post('/api/setup', throttle, async (req, reply) => {
    if (await users.any()) return send(reply, 409, { code: 'ALREADY_SET', message: 'the password is already set; log in' });
    const body = req.body as { code?: unknown; username?: unknown } | undefined;
    const password = passwordOf(req.body);
    if (!password || password.length < MIN_PASSWORD) return send(reply, 400, { code: 'WEAK_PASSWORD', field: 'password', message: `at least ${MIN_PASSWORD} characters` });
    const name = typeof body?.username === 'string' && body.username ? body.username : 'admin';
    if (!USERNAME.test(name)) return send(reply, 400, { code: 'BAD_USERNAME', field: 'username', message: 'a user name is 1–32 letters, digits, ".", "_" or "-"' });
    const checked = codes.check(body?.code);
    if (checked !== 'ok') {
      await audit(req, 'claim', 'refused', { reason: checked });
      const why = { wrong: ['BAD_SETUP_CODE', 'wrong setup code'], expired: ['SETUP_CODE_EXPIRED', 'the setup code expired: print a new one'], none: ['NO_SETUP_CODE', 'no setup code is waiting (expired, used or 5 wrong tries): print a new one'] }[checked];
      return send(reply, 403, { code: why[0]!, field: 'code', message: why[1]! });
    }
    try {
      await users.add(name, 'admin', password);
    } catch (err) {
      if (err instanceof UserError) return send(reply, 400, { code: err.code, field: 'username', message: err.message });
      throw err;
    }
    d.logger.info({ user: name }, 'web: gateway claimed at first run');
    await audit(req, 'claim', 'ok', { user: name }, { name, role: 'admin' });
    return reply.send(await startSession(reply, { name, role: 'admin' }));
  });

  app.post('/api/login', throttle, async (req, reply) => {
    if (!(await users.any())) return send(reply, 403, { code: 'SETUP_REQUIRED', message: 'set the password first' });
    const password = passwordOf(req.body);
    const u = (req.body as { username?: unknown } | undefined)?.username;
    const name = typeof u === 'string' && u ? u.slice(0, 64) : 'admin';
    const user = password ? await users.verify(name, password) : undefined;
    if (!user) {
      d.logger.warn({ ip: req.ip, user: name }, 'web: login failed');
      await audit(req, 'login', 'refused', undefined, { name, role: null });
      return send(reply, 401, { code: 'BAD_PASSWORD', field: 'password', message: 'wrong user name or password' });
    }
    const who = { name: user.name, role: user.role };
    await audit(req, 'login', 'ok', undefined, who);
    return reply.send(await startSession(reply, who));
  });

  app.post('/api/logout', { onRequest: csrf }, async (req, reply) => {
    sessions.delete(req.session?.id);
    reply.clearCookie(COOKIE, { path: '/' });
    return reply.send({ ok: true });
  });

  app.post('/api/password', { onRequest: csrf, ...throttle }, async (req, reply) => {
    const body = req.body as { current?: unknown; password?: unknown } | undefined;
    const me = req.session?.user ?? '';
    const user = typeof body?.current === 'string' ? await users.verify(me, body.current) : undefined;
    if (!user) {
      await audit(req, 'password_changed', 'refused');
      return send(reply, 401, { code: 'BAD_PASSWORD', field: 'current', message: 'wrong current password' });
    }
    const password = passwordOf(body);
    if (!password || password.length < MIN_PASSWORD) return send(reply, 400, { code: 'WEAK_PASSWORD', field: 'password', message: `at least ${MIN_PASSWORD} characters` });
    await users.setPassword(me, password);
    // this user's other sessions end
    sessions.clear(me);
    await audit(req, 'password_changed', 'ok');
    return reply.send(await startSession(reply, { name: user.name, role: user.role }));
  });

  // ---- users (admin) ---------------------------------------------------------------------------------------------
  app.get('/api/users', async () => ({ users: await users.list() }));

  app.post('/api/users', { onRequest: csrf }, async (req, reply) => {
    const b = (req.body ?? {}) as { name?: unknown; role?: unknown; password?: unknown };
    const name = typeof b.name === 'string' ? b.name : '';
    const role = b.role === 'admin' || b.role === 'cashier' ? b.role : undefined;
    const password = passwordOf(b);
    if (!role) return send(reply, 400, { code: 'BAD_ROLE', field: 'role', message: 'the role is admin or cashier' });
    if (!password || password.length < MIN_PASSWORD) return send(reply, 400, { code: 'WEAK_PASSWORD', field: 'password', message: `at least ${MIN_PASSWORD} characters` });
    try {
      await users.add(name, role, password);
    } catch (err) {
      if (err instanceof UserError) {
        await audit(req, 'user_added', 'refused', { name, role, error: err.code });
        return send(reply, err.code === 'USER_EXISTS' ? 409 : 400, { code: err.code, field: 'name', message: err.message });
      }
      throw err;
    }
    await audit(req, 'user_added', 'ok', { name, role });
    return reply.send({ added: true, users: await users.list() });
  });

  app.delete('/api/users/:name', { onRequest: csrf }, async (req, reply) => {
    const name = (req.params as { name: string }).name;
    try {
      await users.remove(name);
    } catch (err) {
      if (err instanceof UserError) {
        await audit(req, 'user_removed', 'refused', { name, error: err.code });
        return send(reply, err.code === 'NO_SUCH_USER' ? 404 : 409, { code: err.code, message: err.message });
      }
      throw err;
    }
    sessions.clear(name);
    await audit(req, 'user_removed', 'ok', { name });
    return reply.send({ removed: true, users: await users.list() });
  });

  // ---- audit log (admin; read only) -----------------------------------------------------------------------------
  const auditQuery = (q: Record<string, string | undefined>): Parameters<AuditLog['list']>[0] => {
    const from = day(q.from, false);
    const to = day(q.to, true);
    return {
      ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}),
      ...(q.user ? { user: q.user.slice(0, 64) } : {}), ...(q.action ? { action: q.action.slice(0, 64) } : {}), ...(q.outcome ? { outcome: q.outcome.slice(0, 16) } : {}),
      limit: Math.min(Math.max(Number(q.limit) || 500, 1), 100_000),
    };
  };
  app.get('/api/audit', async (req) => ({ entries: await auditLog.list(auditQuery(req.query as Record<string, string | undefined>)) }));
  app.get('/api/audit.csv', async (req, reply) => {
    const entries = await auditLog.list({ ...auditQuery(req.query as Record<string, string | undefined>), limit: 100_000 });
    const stamp = new Date(now()).toISOString().slice(0, 19).replace(/[:T]/g, '-');
    reply.header('content-disposition', `attachment; filename="kkt-gateway-audit-${stamp}.csv"`);
    return reply.type('text/csv; charset=utf-8').send('\ufeff' + auditCsv(entries));
  });

  // ---- status ----------------------------------------------------------------------------------------------------
  const recentErrors = (): object[] =>
    (d.ring?.recent() ?? []).filter((l) => Number((l as { level?: number }).level ?? 0) >= LEVELS.warn!).slice(-10);
  const statusBody = async (): Promise<Record<string, unknown>> => ({
    safe_mode: d.safeMode ? { problems: d.safeMode.problems } : null,
    health: d.gateway ? await d.gateway.health() : null,
    last_errors: recentErrors(),
  });
  const gw = (reply: FastifyReply): WebGateway | undefined => {
    if (d.gateway) return d.gateway;
    send(reply, 503, { code: 'SAFE_MODE', message: 'the gateway is in safe mode: fix the configuration in Settings' });
    return undefined;
  };

  app.get('/api/status', async () => statusBody());

  // ---- the registers of the pool («Выбор кассы ККМ»): `device` (query or body) names one of them --------------------
  const registerList = (): Array<{ id: string; name: string | null; port: string; protocol: string | null }> =>
    d.gateway
      ? d.gateway.registers.map((r) => ({ id: r.id, name: r.name || null, port: r.port, protocol: r.conf.protocol ?? null }))
      : registersOfRaw(d.safeMode?.raw);
  /** the register a request names: undefined when it names none, null once a 400 UNKNOWN_DEVICE has been sent */
  const deviceOf = (req: FastifyRequest, reply: FastifyReply, from: 'query' | 'body' = 'query'): string | undefined | null => {
    const id = ((from === 'query' ? req.query : req.body) as { device?: unknown } | null | undefined)?.device;
    if (id === undefined || id === null || id === '') return undefined;
    const ids = registerList().map((r) => r.id);
    if (typeof id === 'string' && ids.includes(id)) return id;
    send(reply, 400, { code: 'UNKNOWN_DEVICE', field: 'device', message: `no register with the id ${JSON.stringify(id)} (${ids.join(', ')})` });
    return null;
  };

  app.get('/api/devices', async () => ({ devices: registerList() }));

  app.post('/api/check', { onRequest: csrf }, async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const device = deviceOf(req, reply, 'body');
    if (device === null) return reply;
    return reply.send(await g.checkLink(device));
  });

  app.get('/api/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
    let last = '';
    let beats = 0;
    const tick = async (): Promise<void> => {
      try {
        const body = await statusBody();
        const { time: _t, uptime_s: _u, ...stable } = (body.health ?? {}) as Record<string, unknown>;
        const key = JSON.stringify({ ...body, health: stable });
        if (key !== last) {
          last = key;
          res.write(`event: status\ndata: ${JSON.stringify(body)}\n\n`);
        } else if (++beats % 15 === 0) res.write(': keep-alive\n\n');
      } catch (err) {
        d.logger.debug({ err }, 'web: status event failed');
      }
    };
    void tick();
    const timer = setInterval(() => void tick(), d.eventsMs ?? 1000);
    req.raw.on('close', () => clearInterval(timer));
  });

  // ---- settings --------------------------------------------------------------------------------------------------
  // `?device=<id>`: that register's settings as `config.device` (the first register's without it); a save puts them
  // back where they live — `devices[i]` when the configuration lists `devices`, `device` otherwise
  app.get('/api/config', async (req, reply) => {
    const device = deviceOf(req, reply);
    if (device === null) return reply;
    // a cashier sees what the manual receipt form needs (the fiscal section), nothing else
    if (req.session?.role === 'cashier') return reply.send({ config: d.gateway ? { fiscal: structuredClone(d.gateway.config.fiscal) } : null });
    if (d.gateway) return reply.send({ ...registerView(forBrowser(d.gateway.config), device), file: d.configFile });
    return reply.send({ ...(d.safeMode?.raw ? registerView(forBrowser(d.safeMode.raw as Record<string, unknown>), device) : { config: null }), file: d.configFile, problems: d.safeMode?.problems ?? [] });
  });

  const saveEdited = async (edited: unknown, reply: FastifyReply, req?: FastifyRequest, action = 'settings_saved'): Promise<FastifyReply> => {
    let next: Config;
    // secrets left as "***" keep what the file holds now (it may have a secret saved for the next restart)
    const onDisk = await fs.readFile(d.configFile, 'utf8').then((s) => JSON.parse(s) as Record<string, unknown>, () => undefined);
    try {
      next = nextConfig(edited, onDisk ?? d.gateway?.config ?? (d.safeMode?.raw as Record<string, unknown> | undefined));
    } catch (err) {
      if (err instanceof ConfigError) {
        if (req) await audit(req, action, 'refused', { problems: err.problems.map((p) => p.field) });
        return send(reply, 400, { code: 'INVALID_CONFIG', message: 'the configuration has errors', problems: err.problems });
      }
      throw err;
    }
    await saveConfig(d.configFile, next);
    const report = d.gateway ? applyLive(d.gateway.config, next) : { applied: [], restart: ['(safe mode: every setting)'] };
    d.logger.info({ applied: report.applied, restart: report.restart }, 'web: configuration saved');
    if (req) await audit(req, action, 'ok', { applied: report.applied, restart: report.restart });
    return reply.send({ saved: true, ...report, restart_required: report.restart.length > 0 });
  };

  app.put('/api/config', { onRequest: csrf }, async (req, reply) => {
    const device = deviceOf(req, reply, 'body');
    if (device === null) return reply;
    return saveEdited(fromRegisterView((req.body as { config?: unknown } | undefined)?.config, device), reply, req);
  });

  app.get('/api/config/backup', async (_req, reply) => {
    const body = forBrowser(d.gateway ? d.gateway.config : ((d.safeMode?.raw ?? {}) as Record<string, unknown>));
    const stamp = new Date(now()).toISOString().slice(0, 19).replace(/[:T]/g, '-');
    reply.header('content-disposition', `attachment; filename="kkt-gateway-config-${stamp}.json"`);
    return reply.type('application/json').send(JSON.stringify(body, null, 2) + '\n');
  });

  app.post('/api/config/restore', { onRequest: csrf }, async (req, reply) => saveEdited(req.body, reply, req, 'restore'));

  app.get('/api/ports', async (_req, reply) => {
    try {
      return reply.send({ ports: d.listPorts ? await d.listPorts() : [] });
    } catch (err) {
      return reply.send({ ports: [], error: (err as Error).message });
    }
  });

  app.post('/api/restart', { onRequest: csrf }, async (req, reply) => {
    if (!d.restart) {
      await audit(req, 'restart', 'failed', { error: 'NO_RESTART' });
      return send(reply, 501, { code: 'NO_RESTART', message: 'restart the service with systemctl restart kkt-gateway' });
    }
    d.logger.warn('web: restart requested');
    await audit(req, 'restart', 'ok');
    setTimeout(() => d.restart?.(), 200).unref();
    return reply.send({ restarting: true });
  });

  // ---- Z-reports -------------------------------------------------------------------------------------------------
  app.get('/api/zreports', async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const limit = Math.min(Math.max(Number((req.query as { limit?: string }).limit) || 100, 1), 1000);
    const device = deviceOf(req, reply);
    if (device === null) return reply;
    // one register's Z-reports (those made before the pool are the first register's); every register's without `device`
    const ids = g.registers.map((r) => r.id);
    const one = device ?? (ids.length === 1 ? ids[0] : undefined);
    const filter = one !== undefined && ids.length > 1;
    const [stored, book, figures] = await Promise.all([
      g.store.listZReports(filter ? Math.min(limit * ids.length, 1000) : limit),
      one !== undefined ? g.shiftBook(one) : undefined,
      one !== undefined ? g.currentFigures(one) : undefined,
    ]);
    const reports = stored.map((z) => z.report as { device?: string }).filter((z) => !filter || (z.device ?? ids[0]) === one).slice(0, limit);
    return reply.send({ device: one ?? null, reports, book: book ?? null, register: figures ?? null });
  });

  app.post('/api/zreports', { onRequest: csrf }, async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const device = deviceOf(req, reply, 'body');
    if (device === null) return reply;
    if (device === undefined && g.registers.length > 1) {
      return send(reply, 400, { code: 'DEVICE_REQUIRED', field: 'device', message: `this gateway has ${g.registers.length} registers: say which (device)` });
    }
    const id = await g.submitCommand('close_shift', `web-${randomUUID()}`, { reason: 'web', ...(device !== undefined ? { device } : {}) });
    await audit(req, 'z_report', 'ok', { external_id: id, ...(device !== undefined ? { device } : {}) });
    follow(req, 'z_report', id);
    return reply.send({ queued: true, id, device: device ?? g.registers[0]?.id ?? null });
  });

  // X-report, cash in / cash out from the page (the same queue as `<base>/request/<command>`)
  app.post('/api/commands', { onRequest: csrf }, async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const b = (req.body ?? {}) as { command?: unknown; sum?: unknown };
    const command = b.command === 'x_report' || b.command === 'cash_in' || b.command === 'cash_out' ? b.command : undefined;
    if (!command) return send(reply, 400, { code: 'UNKNOWN_COMMAND', field: 'command', message: 'the command is x_report, cash_in or cash_out' });
    if (command !== 'x_report' && !(typeof b.sum === 'number' && Number.isFinite(b.sum) && b.sum > 0 && Math.round(b.sum * 100) === Math.round(b.sum * 100 * 1000) / 1000)) {
      return send(reply, 400, { code: 'BAD_SUM', field: 'sum', message: 'the sum is a positive amount in roubles (kopecks at most)' });
    }
    const device = deviceOf(req, reply, 'body');
    if (device === null) return reply;
    if (device === undefined && g.registers.length > 1) {
      return send(reply, 400, { code: 'DEVICE_REQUIRED', field: 'device', message: `this gateway has ${g.registers.length} registers: say which (device)` });
    }
    const id = await g.submitCommand(command, `web-${randomUUID()}`, { ...(command !== 'x_report' ? { sum: b.sum } : {}), ...(device !== undefined ? { device } : {}) });
    await audit(req, command, 'ok', { external_id: id, ...(command !== 'x_report' ? { sum: b.sum } : {}), ...(device !== undefined ? { device } : {}) });
    follow(req, command, id);
    return reply.send({ queued: true, id });
  });

  // ---- receipts journal and manual receipts ----------------------------------------------------------------------
  app.get('/api/receipts', async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const q = req.query as Record<string, string | undefined>;
    const status = q.status === 'accepted' || q.status === 'done' || q.status === 'fail' ? (q.status as RecordStatus) : undefined;
    const from = day(q.from, false);
    const to = day(q.to, true);
    const page = await g.store.listRecords({
      ...(status ? { status } : {}),
      ...(q.search ? { search: q.search.slice(0, 128) } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(q.before ? { before: q.before } : {}),
      limit: Math.min(Math.max(Number(q.limit) || 50, 1), 200),
    });
    return reply.send({
      records: page.records.map((r) => ({ external_id: r.externalId, kind: r.kind, command: r.command ?? null, status: r.status, accepted_at: new Date(r.acceptedAt).toISOString(), finished_at: r.finishedAt ? new Date(r.finishedAt).toISOString() : null, result: r.result ?? null })),
      next: page.next ?? null,
    });
  });

  app.get('/api/receipts/:id', async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const rec = await g.store.getRecord((req.params as { id: string }).id);
    if (!rec) return send(reply, 404, { code: 'NOT_FOUND', message: 'no receipt with this external_id' });
    let request: unknown = rec.body ?? null;
    try {
      request = rec.body ? JSON.parse(rec.body) : null;
    } catch {
      /* shown as the raw text */
    }
    const qr = (rec.result as { payload?: { qr?: string } } | undefined)?.payload?.qr;
    return reply.send({
      external_id: rec.externalId,
      kind: rec.kind,
      status: rec.status,
      accepted_at: new Date(rec.acceptedAt).toISOString(),
      finished_at: rec.finishedAt ? new Date(rec.finishedAt).toISOString() : null,
      request,
      result: rec.result ?? null,
      qr_image: qr ? await (await import('qrcode')).default.toDataURL(qr, { errorCorrectionLevel: 'M', margin: 2, width: 220 }) : null,
    });
  });

  // the document's copy as the FN holds it, read from the register now
  app.get('/api/receipts/:id/fn-copy', async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const rec = await g.store.getRecord((req.params as { id: string }).id);
    if (!rec) return send(reply, 404, { code: 'NOT_FOUND', message: 'no receipt with this external_id' });
    const fd = (rec.result as { payload?: { fiscal_document_number?: number } } | undefined)?.payload?.fiscal_document_number;
    if (rec.status !== 'done' || !fd) return send(reply, 409, { code: 'NOT_FISCALIZED', message: 'the receipt has no fiscal document' });
    // the register that printed it (a receipt from before the pool: the first register)
    const device = (rec.result as { device?: string } | undefined)?.device ?? g.registers[0]?.id;
    try {
      const copy = await g.documentCopy(fd, device);
      if (!copy) return send(reply, 404, { code: 'NOT_IN_FN', message: `the FN has no document ${fd}` });
      return reply.send({ fiscal_document_number: fd, copy });
    } catch (err) {
      return send(reply, 503, { code: (err as { code?: string }).code ?? 'DEVICE', message: (err as Error).message });
    }
  });

  app.post('/api/receipts/:id/republish', { onRequest: csrf }, async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const id = (req.params as { id: string }).id;
    const rec = await g.republish(id);
    await audit(req, 'republish', rec?.result ? 'ok' : 'refused', { external_id: id });
    if (!rec) return send(reply, 404, { code: 'NOT_FOUND', message: 'no receipt with this external_id' });
    if (!rec.result) return send(reply, 409, { code: 'NO_RESULT', message: 'the receipt has no final result yet' });
    return reply.send({ republished: true, status: rec.status });
  });

  app.post('/api/receipts', { onRequest: csrf }, async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const payload = Buffer.from(JSON.stringify(req.body ?? null));
    const out = await g.submitReceipt(payload);
    const body = (req.body ?? {}) as { operation?: unknown; receipt?: { total?: unknown } };
    const what = { external_id: out.externalId, operation: body.operation, total: body.receipt?.total };
    if (out.status === 'rejected') {
      await audit(req, 'manual_receipt', 'refused', { ...what, error: (out.error as { code?: string } | undefined)?.code });
      return reply.code(422).send({ status: 'rejected', external_id: out.externalId, error: out.error });
    }
    if (out.status === 'duplicate') {
      await audit(req, 'manual_receipt', 'refused', { ...what, error: 'DUPLICATE' });
      return reply.send({ status: 'duplicate', external_id: out.externalId, record_status: out.record.status, result: out.record.result ?? null });
    }
    await audit(req, 'manual_receipt', 'ok', what);
    if (out.externalId) follow(req, 'manual_receipt', out.externalId);
    return reply.send({ status: 'accepted', external_id: out.externalId });
  });

  // ---- logs ------------------------------------------------------------------------------------------------------
  app.get('/api/logs', async (req) => {
    const q = req.query as { level?: string; limit?: string };
    const min = LEVELS[q.level ?? 'info'] ?? LEVELS.info!;
    const limit = Math.min(Math.max(Number(q.limit) || 200, 1), 1000);
    const lines = (d.ring?.recent() ?? []).filter((l) => Number((l as { level?: number }).level ?? 30) >= min);
    return { lines: lines.slice(-limit).reverse() };
  });

  return app;
}

/** Listens on the configured address; resolves with the URL. */
export async function startWeb(app: FastifyInstance, host: string, port: number): Promise<string> {
  return app.listen({ host, port });
}

/** The default place of the password hash: next to the queue in the data directory. */
export function authFileIn(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'web-auth.json');
}
