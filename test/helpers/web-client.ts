/** A cookie-keeping client for the web app's inject() (no sockets): what a browser would send, nothing more. */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

export class InjectClient {
  cookies = new Map<string, string>();
  csrf = '';
  constructor(private readonly app: FastifyInstance) {}

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
