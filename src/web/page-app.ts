/**
 * The common ground of the gateway's page and the fleet monitor's: fastify with the signed cookie, CSRF bound to the
 * session, the rate limiter (per route), the static files, strict security headers, and the session named by the
 * request's signed cookie. Each page adds its own routes and its onRequest rules.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import type { Logger } from '../log.ts';
import { PasswordStore, Sessions, type Session } from './auth.ts';

export interface PageAppOptions {
  logger: Logger;
  /** the logger child's `part` */
  part: string;
  bodyLimit: number;
  publicDir: string;
  /** the session cookie's name */
  cookie: string;
  authFile: string;
  now: () => number;
  /** the id CSRF tokens are bound to: the request's session (as the page's onRequest hook decorates it) */
  userOf: (req: FastifyRequest) => string;
  /** served over TLS: the CSRF cookie is Secure (the page's session cookie is set by the page) */
  secure?: boolean;
  /** serve HTTPS with this certificate and key (PEM) */
  https?: { cert: string; key: string };
}

export interface PageApp {
  app: FastifyInstance;
  passwords: PasswordStore;
  sessions: Sessions;
  /** the live session named by the request's signed cookie */
  sessionOf: (req: FastifyRequest) => Session | undefined;
}

export async function pageApp(o: PageAppOptions): Promise<PageApp> {
  const passwords = new PasswordStore(o.authFile);
  const sessions = new Sessions(o.now);
  const app = Fastify({ loggerInstance: o.logger.child({ part: o.part }) as unknown as FastifyBaseLogger, bodyLimit: o.bodyLimit, trustProxy: false, ...(o.https ? { https: o.https } : {}) }) as unknown as FastifyInstance;
  await app.register(fastifyCookie, { secret: randomBytes(32).toString('hex') });
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: '/', ...(o.secure ? { secure: true } : {}) },
    getUserInfo: o.userOf,
    csrfOpts: { hmacKey: randomBytes(32) },
  });
  await app.register(fastifyRateLimit, { global: false });
  await app.register(fastifyStatic, { root: o.publicDir, prefix: '/', index: ['index.html'], cacheControl: false });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
    reply.header('cache-control', 'no-store');
    return payload;
  });

  const sessionOf = (req: FastifyRequest): Session | undefined => {
    const raw = req.cookies[o.cookie];
    const unsigned = raw ? req.unsignCookie(raw) : undefined;
    return unsigned?.valid ? sessions.get(unsigned.value ?? undefined) : undefined;
  };
  return { app, passwords, sessions, sessionOf };
}
