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
import QRCode from 'qrcode';
import type { Config, ConfigProblem } from '../config/index.ts';
import { ConfigError, saveConfig } from '../config/index.ts';
import type { LogRing, Logger } from '../log.ts';
import type { PortCandidate } from '../device/ports.ts';
import type { Gateway } from '../service.ts';
import type { RecordStatus } from '../queue/types.ts';
import { MIN_PASSWORD, type Session } from './auth.ts';
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

const OPEN_ROUTES = new Set(['/api/session', '/api/setup', '/api/login']);
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export async function buildWebApp(d: WebDeps): Promise<FastifyInstance> {
  const now = d.now ?? Date.now;
  const { app, passwords, sessions, sessionOf } = await pageApp({
    logger: d.logger, part: 'web', bodyLimit: 1024 * 1024, publicDir: PUBLIC_DIR, cookie: COOKIE, authFile: d.authFile, now,
    userOf: (req) => req.session?.id ?? '',
  });

  // authentication for every API route but the open ones; CSRF for every state-changing one
  app.addHook('onRequest', async (req, reply) => {
    const url = req.url.split('?')[0] ?? '';
    if (!url.startsWith('/api/')) return;
    if (OPEN_ROUTES.has(url)) return;
    if (!(await passwords.isSet())) return send(reply, 403, { code: 'SETUP_REQUIRED', message: 'set the password first' });
    const session = sessionOf(req);
    if (!session) return send(reply, 401, { code: 'UNAUTHENTICATED', message: 'log in first' });
    req.session = session;
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

  const startSession = async (reply: FastifyReply): Promise<{ csrf: string }> => {
    const s = sessions.create();
    reply.setCookie(COOKIE, s.id, { signed: true, httpOnly: true, sameSite: 'strict', path: '/' });
    // the CSRF token is bound to this session's id
    return { csrf: reply.generateCsrf({ userInfo: s.id }) };
  };
  const throttle = { config: { rateLimit: { max: d.loginPerMinute ?? 5, timeWindow: 60_000 } } };
  const passwordOf = (body: unknown): string | undefined => {
    const p = (body as { password?: unknown } | undefined)?.password;
    return typeof p === 'string' ? p : undefined;
  };

  // ---- session ---------------------------------------------------------------------------------------------------
  app.get('/api/session', async (req, reply) => {
    const setup = !(await passwords.isSet());
    const session = setup ? undefined : sessionOf(req);
    return reply.send({
      setup_required: setup,
      authenticated: session !== undefined,
      safe_mode: d.safeMode !== undefined,
      ...(session ? { csrf: reply.generateCsrf({ userInfo: session.id }) } : {}),
    });
  });

  app.post('/api/setup', throttle, async (req, reply) => {
    if (await passwords.isSet()) return send(reply, 409, { code: 'ALREADY_SET', message: 'the password is already set; log in' });
    const password = passwordOf(req.body);
    if (!password || password.length < MIN_PASSWORD) return send(reply, 400, { code: 'WEAK_PASSWORD', field: 'password', message: `at least ${MIN_PASSWORD} characters` });
    await passwords.set(password);
    d.logger.info('web: password set at first run');
    return reply.send(await startSession(reply));
  });

  app.post('/api/login', throttle, async (req, reply) => {
    if (!(await passwords.isSet())) return send(reply, 403, { code: 'SETUP_REQUIRED', message: 'set the password first' });
    const password = passwordOf(req.body);
    if (!password || !(await passwords.verify(password))) {
      d.logger.warn({ ip: req.ip }, 'web: login failed');
      return send(reply, 401, { code: 'BAD_PASSWORD', field: 'password', message: 'wrong password' });
    }
    return reply.send(await startSession(reply));
  });

  app.post('/api/logout', { onRequest: csrf }, async (req, reply) => {
    sessions.delete(req.session?.id);
    reply.clearCookie(COOKIE, { path: '/' });
    return reply.send({ ok: true });
  });

  app.post('/api/password', { onRequest: csrf, ...throttle }, async (req, reply) => {
    const body = req.body as { current?: unknown; password?: unknown } | undefined;
    if (typeof body?.current !== 'string' || !(await passwords.verify(body.current))) return send(reply, 401, { code: 'BAD_PASSWORD', field: 'current', message: 'wrong current password' });
    const password = passwordOf(body);
    if (!password || password.length < MIN_PASSWORD) return send(reply, 400, { code: 'WEAK_PASSWORD', field: 'password', message: `at least ${MIN_PASSWORD} characters` });
    await passwords.set(password);
    sessions.clear();
    return reply.send(await startSession(reply));
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
    if (d.gateway) return reply.send({ ...registerView(forBrowser(d.gateway.config), device), file: d.configFile });
    return reply.send({ ...(d.safeMode?.raw ? registerView(forBrowser(d.safeMode.raw as Record<string, unknown>), device) : { config: null }), file: d.configFile, problems: d.safeMode?.problems ?? [] });
  });

  const saveEdited = async (edited: unknown, reply: FastifyReply): Promise<FastifyReply> => {
    let next: Config;
    // secrets left as "***" keep what the file holds now (it may have a secret saved for the next restart)
    const onDisk = await fs.readFile(d.configFile, 'utf8').then((s) => JSON.parse(s) as Record<string, unknown>, () => undefined);
    try {
      next = nextConfig(edited, onDisk ?? d.gateway?.config ?? (d.safeMode?.raw as Record<string, unknown> | undefined));
    } catch (err) {
      if (err instanceof ConfigError) return send(reply, 400, { code: 'INVALID_CONFIG', message: 'the configuration has errors', problems: err.problems });
      throw err;
    }
    await saveConfig(d.configFile, next);
    const report = d.gateway ? applyLive(d.gateway.config, next) : { applied: [], restart: ['(safe mode: every setting)'] };
    d.logger.info({ applied: report.applied, restart: report.restart }, 'web: configuration saved');
    return reply.send({ saved: true, ...report, restart_required: report.restart.length > 0 });
  };

  app.put('/api/config', { onRequest: csrf }, async (req, reply) => {
    const device = deviceOf(req, reply, 'body');
    if (device === null) return reply;
    return saveEdited(fromRegisterView((req.body as { config?: unknown } | undefined)?.config, device), reply);
  });

  app.get('/api/config/backup', async (_req, reply) => {
    const body = forBrowser(d.gateway ? d.gateway.config : ((d.safeMode?.raw ?? {}) as Record<string, unknown>));
    const stamp = new Date(now()).toISOString().slice(0, 19).replace(/[:T]/g, '-');
    reply.header('content-disposition', `attachment; filename="kkt-gateway-config-${stamp}.json"`);
    return reply.type('application/json').send(JSON.stringify(body, null, 2) + '\n');
  });

  app.post('/api/config/restore', { onRequest: csrf }, async (req, reply) => saveEdited(req.body, reply));

  app.get('/api/ports', async (_req, reply) => {
    try {
      return reply.send({ ports: d.listPorts ? await d.listPorts() : [] });
    } catch (err) {
      return reply.send({ ports: [], error: (err as Error).message });
    }
  });

  app.post('/api/restart', { onRequest: csrf }, async (_req, reply) => {
    if (!d.restart) return send(reply, 501, { code: 'NO_RESTART', message: 'restart the service with systemctl restart kkt-gateway' });
    d.logger.warn('web: restart requested');
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
    return reply.send({ queued: true, id, device: device ?? g.registers[0]?.id ?? null });
  });

  // ---- receipts journal and manual receipts ----------------------------------------------------------------------
  app.get('/api/receipts', async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const q = req.query as Record<string, string | undefined>;
    const status = q.status === 'accepted' || q.status === 'done' || q.status === 'fail' ? (q.status as RecordStatus) : undefined;
    const day = (s: string | undefined, end: boolean): number | undefined => {
      if (!s || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return undefined;
      const t = new Date(`${s}T00:00:00`).getTime();
      return end ? t + 24 * 3600_000 : t;
    };
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
      qr_image: qr ? await QRCode.toDataURL(qr, { errorCorrectionLevel: 'M', margin: 2, width: 220 }) : null,
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
    const rec = await g.republish((req.params as { id: string }).id);
    if (!rec) return send(reply, 404, { code: 'NOT_FOUND', message: 'no receipt with this external_id' });
    if (!rec.result) return send(reply, 409, { code: 'NO_RESULT', message: 'the receipt has no final result yet' });
    return reply.send({ republished: true, status: rec.status });
  });

  app.post('/api/receipts', { onRequest: csrf }, async (req, reply) => {
    const g = gw(reply);
    if (!g) return reply;
    const payload = Buffer.from(JSON.stringify(req.body ?? null));
    const out = await g.submitReceipt(payload);
    if (out.status === 'rejected') return reply.code(422).send({ status: 'rejected', external_id: out.externalId, error: out.error });
    if (out.status === 'duplicate') return reply.send({ status: 'duplicate', external_id: out.externalId, record_status: out.record.status, result: out.record.result ?? null });
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
