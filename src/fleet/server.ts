/**
 * The fleet monitor's HTTP side: `/metrics` (Prometheus text format), the page (src/fleet/public, plain ES modules,
 * the gateway page's style.css) and its JSON API. When the monitor listens beyond loopback the page is protected
 * the same way as the gateway's (src/web/auth.ts): a password set at first run (salted scrypt hash, file mode 0600),
 * in-memory sessions in an HttpOnly SameSite=Strict signed cookie, a CSRF token bound to the session on every
 * state-changing request (@fastify/csrf-protection), login/setup throttled per address (@fastify/rate-limit).
 * On loopback the page is open unless `requireLogin`. `/metrics` is open (read-only) unless a bearer token is set.
 */
import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log.ts';
import { MIN_PASSWORD, type Session } from '../web/auth.ts';
import { pageApp } from '../web/page-app.ts';
import { METRICS_CONTENT_TYPE, type Monitor } from './monitor.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FROM_SOURCES = existsSync(path.join(HERE, 'public', 'fleet.js'));
/** the page's files: src/fleet/public from the sources, dist/fleet-public in the production bundle */
export const FLEET_PUBLIC_DIR = FROM_SOURCES ? path.join(HERE, 'public') : path.join(HERE, 'fleet-public');
/** the gateway page's files (its style.css is shared): src/web/public, or dist/public in the bundle */
const GATEWAY_PUBLIC_DIR = FROM_SOURCES ? path.join(HERE, '..', 'web', 'public') : path.join(HERE, 'public');
const COOKIE = 'kkt_fleet_session';

export interface FleetAppDeps {
  monitor: Monitor;
  logger: Logger;
  authFile: string;
  requireLogin: boolean;
  metricsToken?: string;
  loginPerMinute?: number;
  now?: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    fleetSession?: Session;
  }
}

const OPEN_ROUTES = new Set(['/api/session', '/api/setup', '/api/login']);

function send(reply: FastifyReply, status: number, code: string, message: string, field?: string): FastifyReply {
  return reply.code(status).send({ error: { code, message, ...(field ? { field } : {}) } });
}

export async function buildFleetApp(d: FleetAppDeps): Promise<FastifyInstance> {
  const now = d.now ?? Date.now;
  const { app, passwords, sessions, sessionOf } = await pageApp({
    logger: d.logger, part: 'fleet-web', bodyLimit: 64 * 1024, publicDir: FLEET_PUBLIC_DIR, cookie: COOKIE, authFile: d.authFile, now,
    userOf: (req) => req.fleetSession?.id ?? '',
  });

  app.addHook('onRequest', async (req, reply) => {
    const url = req.url.split('?')[0] ?? '';
    if (!url.startsWith('/api/') || OPEN_ROUTES.has(url) || !d.requireLogin) return;
    if (!(await passwords.isSet())) return send(reply, 403, 'SETUP_REQUIRED', 'set the password first');
    const session = sessionOf(req);
    if (!session) return send(reply, 401, 'UNAUTHENTICATED', 'log in first');
    req.fleetSession = session;
  });
  const csrf = (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    if (!d.requireLogin) return done();
    app.csrfProtection(req, reply, done);
  };
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) d.logger.error({ err }, 'fleet web request failed');
    const code = err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET' ? 'CSRF' : status === 429 ? 'THROTTLED' : status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
    return send(reply, status, code, status >= 500 ? 'internal error' : err.message);
  });
  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/api/') || req.url.startsWith('/metrics')) return send(reply, 404, 'NOT_FOUND', 'no such route');
    return reply.sendFile('index.html');
  });

  // the gateway page's stylesheet, shared (one look for both pages)
  app.get('/style.css', (_req, reply) => reply.sendFile('style.css', GATEWAY_PUBLIC_DIR));

  // ---- /metrics ----------------------------------------------------------------------------------------------------
  const token = d.metricsToken ? Buffer.from(`Bearer ${d.metricsToken}`) : undefined;
  app.get('/metrics', async (req, reply) => {
    if (token) {
      const got = Buffer.from(req.headers.authorization ?? '');
      if (got.length !== token.length || !timingSafeEqual(got, token)) return reply.code(401).header('www-authenticate', 'Bearer').send('unauthorized\n');
    }
    return reply.header('content-type', METRICS_CONTENT_TYPE).send(await d.monitor.metricsText());
  });

  // ---- session -----------------------------------------------------------------------------------------------------
  const startSession = async (reply: FastifyReply): Promise<{ csrf: string }> => {
    const s = sessions.create();
    reply.setCookie(COOKIE, s.id, { signed: true, httpOnly: true, sameSite: 'strict', path: '/' });
    return { csrf: reply.generateCsrf({ userInfo: s.id }) };
  };
  const throttle = { config: { rateLimit: { max: d.loginPerMinute ?? 5, timeWindow: 60_000 } } };
  const passwordOf = (body: unknown): string | undefined => {
    const p = (body as { password?: unknown } | undefined)?.password;
    return typeof p === 'string' ? p : undefined;
  };

  app.get('/api/session', async (req, reply) => {
    if (!d.requireLogin) return reply.send({ login_required: false, setup_required: false, authenticated: true });
    const setup = !(await passwords.isSet());
    const session = setup ? undefined : sessionOf(req);
    return reply.send({ login_required: true, setup_required: setup, authenticated: session !== undefined, ...(session ? { csrf: reply.generateCsrf({ userInfo: session.id }) } : {}) });
  });
  app.post('/api/setup', throttle, async (req, reply) => {
    if (!d.requireLogin) return send(reply, 409, 'NO_LOGIN', 'the page is open on loopback; no password is used');
    if (await passwords.isSet()) return send(reply, 409, 'ALREADY_SET', 'the password is already set; log in');
    const password = passwordOf(req.body);
    if (!password || password.length < MIN_PASSWORD) return send(reply, 400, 'WEAK_PASSWORD', `at least ${MIN_PASSWORD} characters`, 'password');
    await passwords.set(password);
    d.logger.info('fleet page: password set at first run');
    return reply.send(await startSession(reply));
  });
  app.post('/api/login', throttle, async (req, reply) => {
    if (!d.requireLogin) return send(reply, 409, 'NO_LOGIN', 'the page is open on loopback; no password is used');
    if (!(await passwords.isSet())) return send(reply, 403, 'SETUP_REQUIRED', 'set the password first');
    const password = passwordOf(req.body);
    if (!password || !(await passwords.verify(password))) {
      d.logger.warn({ ip: req.ip }, 'fleet page: login failed');
      return send(reply, 401, 'BAD_PASSWORD', 'wrong password', 'password');
    }
    return reply.send(await startSession(reply));
  });
  app.post('/api/logout', { onRequest: csrf }, async (req, reply) => {
    sessions.delete(req.fleetSession?.id);
    reply.clearCookie(COOKIE, { path: '/' });
    return reply.send({ ok: true });
  });

  // ---- the fleet ---------------------------------------------------------------------------------------------------
  app.get('/api/gateways', async () => ({ time: new Date(now()).toISOString(), gateways: d.monitor.summaries() }));
  app.get('/api/gateways/:id', async (req, reply) => {
    const detail = d.monitor.detail((req.params as { id: string }).id);
    if (!detail) return send(reply, 404, 'NOT_FOUND', 'no such gateway');
    return reply.send(detail);
  });
  return app;
}
