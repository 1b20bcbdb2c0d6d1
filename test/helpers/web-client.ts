/** A cookie-keeping client for the web app's inject() (no sockets): what a browser would send, nothing more. */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Page } from 'playwright-core';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { TLSSocket } from 'node:tls';

export class InjectClient {
  cookies = new Map<string, string>();
  csrf = '';
  constructor(readonly app: FastifyInstance) {}

  async req(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, opts: { csrf?: string | null; headers?: Record<string, string> } = {}): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const token = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (method !== 'GET' && token) headers['x-csrf-token'] = token;
    const res = await this.app.inject({ method, url, headers, ...(body !== undefined ? { payload: body as object } : {}) });
    for (const c of res.cookies as Array<{ name: string; value: string; maxAge?: number; expires?: Date }>) {
      if (c.value === '' || (c.expires && c.expires.getTime() < Date.now())) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const j = safeJson(res.body) as { csrf?: string } | undefined;
    if (j && typeof j.csrf === 'string') this.csrf = j.csrf;
    return res;
  }

  json<T = any>(res: LightMyRequestResponse): T {
    return JSON.parse(res.body) as T;
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** the log lines of a web app built by the rigs (its LogRing), where claim() reads the setup code */
export const logOf = new WeakMap<FastifyInstance, () => Iterable<object | string>>();

/** the setup code the gateway last wrote to its log (pino lines: the ring of the web rig, or a process's stdout) */
export function setupCodeIn(lines: Iterable<object | string>): string | undefined {
  let code: string | undefined;
  for (const l of lines) {
    const o = typeof l === 'string' ? safeJson(l) : l;
    const c = (o as { setup_code?: unknown } | undefined)?.setup_code;
    if (typeof c === 'string') code = c;
  }
  return code;
}

/**
 * The first-run claim as an installer makes it: the page asks for a setup code, the code is read from the log
 * (`logLines()`), then sent with the first admin's password. Throws unless the claim succeeds.
 */
export async function claim(c: InjectClient, logLines: (() => Iterable<object | string>) | undefined, password: string, username?: string): Promise<LightMyRequestResponse> {
  const asked = await c.req('POST', '/api/setup/code', {});
  if (asked.statusCode !== 200) throw new Error(`setup code: ${asked.statusCode} ${asked.body}`);
  const lines = logLines ?? logOf.get(c.app);
  if (!lines) throw new Error('claim: no log to read the setup code from (logOf.set(app, …))');
  const code = setupCodeIn(lines());
  if (!code) throw new Error('no setup code in the log');
  const res = await c.req('POST', '/api/setup', { code, password, ...(username ? { username } : {}) });
  if (res.statusCode !== 200) throw new Error(`claim: ${res.statusCode} ${res.body}`);
  return res;
}

/** polls `f` every 100 ms until it gives a value; throws after `ms` */
export async function waitFor<T>(f: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The first-run claim in the browser: «Напечатать код», the code read by `readCode` (the register's tape, or the log
 * of the app: logOf), typed in with the password twice. Leaves the page submitting the form.
 */
export async function claimInPage(page: Page, readCode: () => Promise<string | undefined>, password: string): Promise<string> {
  await page.waitForSelector('#setup-form');
  await page.click('#setup-print-code');
  await page.waitForSelector('#setup-code-result .pill');
  const code = await waitFor(readCode, 'the setup code');
  await page.fill('#setup-code', code);
  await page.fill('#setup-password', password);
  await page.fill('#setup-repeat', password);
  await page.click('#setup-form button[type=submit]');
  return code;
}

/** the setup code in the log of a web app built by the rigs */
export const codeFromLog = (app: FastifyInstance) => async (): Promise<string | undefined> => setupCodeIn(logOf.get(app)?.() ?? []);

export interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string; fingerprint?: string }

/** a request over a real socket; HTTPS accepts the gateway's self-signed certificate and reports its fingerprint */
export function call(url: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const u = new URL(url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const opts = { method, hostname: u.hostname, port: u.port, path: u.pathname + u.search, rejectUnauthorized: false, headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) } };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(opts, (res) => {
      let text = '';
      const sock = res.socket as TLSSocket | null;
      const peer = sock && typeof sock.getPeerX509Certificate === 'function' ? sock.getPeerX509Certificate() : undefined;
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, ...(peer ? { fingerprint: peer.fingerprint256 } : {}) });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
