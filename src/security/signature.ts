/**
 * Signed receipts and commands (optional, `security.signing`): the store wraps the exact message in an envelope
 *
 *   {"kid": "<key id>", "ts": <unix seconds>, "body": "<the receipt or command JSON, as a string>",
 *    "sig": "<hex HMAC-SHA256(secret, ts + "." + body)>"}
 *
 * Every configured key is valid (two at once while rotating). A message older than `max_age_s` is a replay; a
 * younger replay of a receipt is an idempotent duplicate (same external_id), never a second print — which is why
 * `max_age_s` must stay below the retention of finished receipts, and why signed commands need a `transaction`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors.ts';

export interface SigningConfig {
  enabled: boolean;
  keys: Array<{ id: string; secret: string }>;
  max_age_s: number;
  max_skew_s: number;
}

export function sign(secret: string, ts: number, body: string): string {
  return createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
}

/** Builds an envelope (stores and tests use it). */
export function envelope(key: { id: string; secret: string }, body: string, ts = Math.floor(Date.now() / 1000)): string {
  return JSON.stringify({ kid: key.id, ts, body, sig: sign(key.secret, ts, body) });
}

function refuse(why: string): GatewayError {
  return new GatewayError('SIGNATURE', 'validation', `Подпись сообщения неверна или отсутствует / bad or missing message signature: ${why}`);
}

/**
 * Returns the inner body of a correctly signed envelope, or throws GatewayError SIGNATURE.
 * `nowS` is the host clock in unix seconds.
 */
export function verifyEnvelope(raw: Buffer, cfg: SigningConfig, nowS: number): Buffer {
  let env: unknown;
  try {
    env = JSON.parse(raw.toString('utf8'));
  } catch {
    throw refuse('not a signed envelope');
  }
  if (typeof env !== 'object' || env === null) throw refuse('not a signed envelope');
  const { kid, ts, body, sig } = env as Record<string, unknown>;
  if (typeof body !== 'string' || typeof sig !== 'string' || typeof kid !== 'string' || typeof ts !== 'number' || !Number.isSafeInteger(ts)) {
    throw refuse('unsigned (kid, ts, body, sig required)');
  }
  const key = cfg.keys.find((k) => k.id === kid);
  if (!key) throw refuse(`unknown key ${JSON.stringify(kid.slice(0, 32))}`);
  const want = Buffer.from(sign(key.secret, ts, body), 'hex');
  const got = /^[0-9a-f]{64}$/i.test(sig) ? Buffer.from(sig, 'hex') : Buffer.alloc(0);
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw refuse('signature does not match');
  if (ts < nowS - cfg.max_age_s) throw refuse(`too old (replay?): signed ${nowS - ts} s ago`);
  if (ts > nowS + cfg.max_skew_s) throw refuse('signed in the future');
  return Buffer.from(body, 'utf8');
}

/** the external_id of a body, when it has one (to answer a refused envelope on the right id) */
export function externalIdOf(raw: Buffer): string | undefined {
  try {
    const env = JSON.parse(raw.toString('utf8')) as { body?: unknown; external_id?: unknown };
    const inner = typeof env.body === 'string' ? (JSON.parse(env.body) as { external_id?: unknown }) : env;
    return typeof inner.external_id === 'string' && inner.external_id.length <= 128 ? inner.external_id : undefined;
  } catch {
    return undefined;
  }
}
