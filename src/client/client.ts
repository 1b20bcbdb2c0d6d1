/**
 * The store side of the MQTT contract (shared/design/contract.md), on MQTT.js: publish a receipt, wait for its final
 * result, retry what the gateway says is retryable, recover a lost result through `request/result`, and send
 * request/response commands. Exactly-once rests on the gateway's idempotency key: every (re-)publish of a receipt
 * carries the very same bytes, so a repeat is a duplicate the gateway answers with its stored result, never a print.
 *
 * Imports nothing of the gateway at run time (see types.ts): a store backend needs only `mqtt`.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { CommandName, CommandResponse, FinalResult, ReceiptRequest, ReceiptResultJson } from './types.ts';

export type ClientErrorCode =
  /** the request or an argument is not usable (nothing was published) */
  | 'BAD_INPUT'
  /** a submit of this external_id with another body is still pending in this client (nothing was published) */
  | 'DUPLICATE_MISMATCH'
  /** a command's response (or a submit's overall deadline) did not come in time */
  | 'TIMEOUT'
  /** retry.maxAttempts retryable fails in a row; `result` is the last one */
  | 'RETRIES_EXHAUSTED'
  /** close() was called while this was pending */
  | 'CLOSED'
  /** the first connection to the broker failed */
  | 'CONNECT';

export class KktClientError extends Error {
  readonly code: ClientErrorCode;
  /** the last result seen, for RETRIES_EXHAUSTED / TIMEOUT of a submit */
  readonly result: ReceiptResultJson | undefined;

  constructor(code: ClientErrorCode, message: string, result?: ReceiptResultJson) {
    super(message);
    this.name = 'KktClientError';
    this.code = code;
    this.result = result;
  }
}

export interface RetryOptions {
  /** first backoff delay, ms (default 500) */
  minMs?: number;
  /** backoff ceiling, ms (default 30 000) */
  maxMs?: number;
  /** give up after this many retryable fails of one submit (default: never; the submit keeps trying) */
  maxAttempts?: number;
}

export interface ConnectClientOptions extends Omit<IClientOptions, 'clean' | 'clientId' | 'protocolVersion'> {
  /** broker URL, e.g. mqtt://broker:1883 or mqtts://… */
  url: string;
  /**
   * The MQTT client id of this backend. It names the persistent session (results published while the backend was
   * away wait there), so it must be stable across restarts and unique per backend process. Default:
   * `kkt-store-<hostname>` — give one explicitly when more than one backend runs on a host.
   */
  clientId?: string;
  /** 5 (default) or 4 (MQTT 3.1.1) */
  protocolVersion?: 4 | 5;
  /** the gateways' topic prefix: a gateway's base is `<baseTopic>/<gateway_id>` (default `kkt`) */
  baseTopic?: string;
  /** without a final result this long after a publish (or the last sign of life), ask `request/result` (default 30 000) */
  resultTimeoutMs?: number;
  /** a command's response timeout (default 15 000) */
  commandTimeoutMs?: number;
  retry?: RetryOptions;
  /**
   * Share the results stream with the other backends of this group (`$share/<group>/<baseTopic>/+/result`): each
   * result goes to one of them. A backend resolves its own pending submits; any other result goes to its `onResult`
   * listeners and is relayed (non-shared) on `relayTopic` so the backend that submitted it resolves too.
   */
  sharedGroup?: string;
  /** the group's relay topic (default `kkt-store/<sharedGroup>/relay`); must be outside `<baseTopic>/#` */
  relayTopic?: string;
  /** MQTT 5 session expiry, seconds (default 7 days) */
  sessionExpirySec?: number;
  /** results that are not for a pending submit of this client: another backend's, or from before a restart */
  onResult?: (result: ReceiptResultJson, gatewayId: string) => void;
}

export interface SubmitOptions {
  /** called when the gateway says it has the receipt on disk (`accepted`) */
  onAccepted?: (result: ReceiptResultJson) => void;
  /** reject with TIMEOUT when no final result came within this many ms (default: no overall deadline) */
  timeoutMs?: number;
}

export interface CommandOptions {
  timeoutMs?: number;
}

export interface KktClient {
  /** the underlying MQTT.js client (events, extra subscriptions) */
  readonly mqtt: MqttClient;
  readonly clientId: string;
  /**
   * Publishes the receipt (QoS 1) and resolves with its final result: `done`, or a `fail` that is not retryable.
   * `request` is an object (serialized once) or the exact JSON bytes (a string or bytes) — pass the stored bytes
   * when re-submitting after a restart of the backend, so the gateway sees the same body.
   */
  submit(gatewayId: string, request: ReceiptRequest | Record<string, unknown> | string | Uint8Array, opts?: SubmitOptions): Promise<FinalResult>;
  /** `<base>/request/<name>` with a generated transaction → the matching `<base>/response/<name>` */
  command<D = unknown>(gatewayId: string, name: CommandName, params?: Record<string, unknown>, opts?: CommandOptions): Promise<CommandResponse<D>>;
  /** results not for a pending submit (see ConnectClientOptions.onResult); returns the unsubscribe */
  onResult(listener: (result: ReceiptResultJson, gatewayId: string) => void): () => void;
  /** pending submits */
  readonly pending: number;
  /** waits for the publishes handed to the broker (up to timeoutMs), rejects what is still pending with CLOSED, disconnects (the session stays) */
  close(opts?: { timeoutMs?: number }): Promise<void>;
}

type Event = { kind: 'result'; result: ReceiptResultJson } | { kind: 'timeout' } | { kind: 'closed' };

/** One submit in flight: the results that came for it, and the one waiting for them. */
class PendingSubmit {
  readonly inbox: ReceiptResultJson[] = [];
  private wake: ((e: Event) => void) | undefined;
  closed = false;

  constructor(
    readonly key: string,
    readonly body: Buffer,
    readonly promise: { value?: Promise<FinalResult> },
  ) {}

  push(result: ReceiptResultJson): void {
    if (this.wake) {
      const w = this.wake;
      this.wake = undefined;
      w({ kind: 'result', result });
    } else this.inbox.push(result);
  }

  close(): void {
    this.closed = true;
    const w = this.wake;
    this.wake = undefined;
    w?.({ kind: 'closed' });
  }

  next(ms: number): Promise<Event> {
    if (this.closed) return Promise.resolve({ kind: 'closed' });
    const r = this.inbox.shift();
    if (r) return Promise.resolve({ kind: 'result', result: r });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve({ kind: 'timeout' });
      }, ms);
      this.wake = (e) => {
        clearTimeout(timer);
        resolve(e);
      };
    });
  }
}

interface PendingCommand {
  resolve(r: CommandResponse<any>): void;
  reject(e: Error): void;
}

const key = (...parts: string[]): string => parts.join('\u0000');

function badInput(message: string): KktClientError {
  return new KktClientError('BAD_INPUT', message);
}

function checkGatewayId(gatewayId: unknown): string {
  if (typeof gatewayId !== 'string' || gatewayId.length === 0 || /[/+#\u0000]/.test(gatewayId)) {
    throw badInput(`gatewayId must be a non-empty string without "/", "+", "#": ${JSON.stringify(gatewayId)}`);
  }
  return gatewayId;
}

/** The exact bytes to publish and the external_id they carry. */
function receiptBytes(request: unknown): { body: Buffer; externalId: string } {
  let obj: unknown;
  let body: Buffer;
  if (typeof request === 'string' || request instanceof Uint8Array) {
    body = typeof request === 'string' ? Buffer.from(request, 'utf8') : Buffer.from(request);
    try {
      obj = JSON.parse(body.toString('utf8'));
    } catch {
      throw badInput('the receipt is not JSON');
    }
  } else {
    obj = request;
    body = Buffer.alloc(0);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw badInput('the receipt must be a JSON object');
  const id = (obj as { external_id?: unknown }).external_id;
  if (typeof id !== 'string' || id.length === 0 || [...id].length > 128) throw badInput('the receipt needs an `external_id` of 1–128 characters');
  if (body.length === 0) {
    let json: string | undefined;
    try {
      json = JSON.stringify(obj);
    } catch (err) {
      throw badInput(`the receipt cannot be serialized: ${(err as Error).message}`);
    }
    body = Buffer.from(json, 'utf8');
  }
  return { body, externalId: id };
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isResult(v: unknown): v is ReceiptResultJson {
  const r = v as ReceiptResultJson | undefined;
  return typeof r === 'object' && r !== null && typeof r.external_id === 'string' && (r.status === 'accepted' || r.status === 'done' || r.status === 'fail');
}

export async function connectClient(options: ConnectClientOptions): Promise<KktClient> {
  if (typeof options !== 'object' || options === null || typeof options.url !== 'string' || options.url.length === 0) {
    throw badInput('connectClient needs { url }');
  }
  const {
    url,
    clientId = `kkt-store-${hostname()}`,
    protocolVersion = 5,
    baseTopic = 'kkt',
    resultTimeoutMs = 30_000,
    commandTimeoutMs = 15_000,
    retry = {},
    sharedGroup,
    relayTopic: relayOpt,
    sessionExpirySec = 7 * 24 * 3600,
    onResult,
    ...mqttOptions
  } = options;
  if (protocolVersion !== 4 && protocolVersion !== 5) throw badInput('protocolVersion must be 4 or 5');
  if (sharedGroup !== undefined && (typeof sharedGroup !== 'string' || sharedGroup.length === 0 || /[/+#]/.test(sharedGroup))) {
    throw badInput('sharedGroup must be a non-empty name without "/", "+", "#"');
  }
  const minMs = retry.minMs ?? 500;
  const maxMs = Math.max(retry.maxMs ?? 30_000, minMs);
  const prefix = baseTopic.replace(/\/+$/, '');
  const relayTopic = sharedGroup === undefined ? undefined : (relayOpt ?? `kkt-store/${sharedGroup}/relay`);
  if (relayTopic !== undefined && (relayTopic === prefix || relayTopic.startsWith(`${prefix}/`))) throw badInput('relayTopic must be outside the gateways\' topics');

  const events = new EventEmitter();
  if (onResult) events.on('result', onResult);
  const pendingSubmits = new Map<string, PendingSubmit>();
  const pendingCommands = new Map<string, PendingCommand>();
  const inflight = new Set<Promise<void>>();
  /** submits resolved lately: a result of theirs seen again is a duplicate, dropped (bounded) */
  const recentlyDone = new Set<string>();
  const remember = (k: string): void => {
    recentlyDone.add(k);
    if (recentlyDone.size > 10_000) recentlyDone.delete(recentlyDone.values().next().value as string);
  };
  let closing = false;

  const mqttOpts: IClientOptions = {
    reconnectPeriod: minMs,
    connectTimeout: 30_000,
    ...mqttOptions,
    clientId,
    clean: false,
    protocolVersion,
    // subscribed on every connect below (MQTT.js's own resubscribe would do it a second time)
    resubscribe: false,
  };
  if (protocolVersion === 5) mqttOpts.properties = { ...mqttOptions.properties, sessionExpiryInterval: sessionExpirySec };
  const client = mqtt.connect(url, mqttOpts);
  const reconnectMin = mqttOpts.reconnectPeriod ?? minMs;
  let reconnectMs = reconnectMin;

  const subscriptions: Array<{ topic: string; opts: { qos: 1; nl?: boolean } }> = [
    { topic: sharedGroup === undefined ? `${prefix}/+/result` : `$share/${sharedGroup}/${prefix}/+/result`, opts: { qos: 1 } },
    // responses are never shared: the backend that sent a command must get its response
    { topic: `${prefix}/+/response/+`, opts: { qos: 1 } },
  ];
  if (relayTopic !== undefined) subscriptions.push({ topic: relayTopic, opts: protocolVersion === 5 ? { qos: 1, nl: true } : { qos: 1 } });

  const subscribe = (): Promise<void> =>
    new Promise((resolve, reject) => {
      client.subscribe(Object.fromEntries(subscriptions.map((s) => [s.topic, s.opts])), (err, granted) => {
        if (err) return reject(err);
        const refused = (granted ?? []).filter((g) => g.qos === 128 || g.qos > 2);
        if (refused.length > 0) return reject(new Error(`the broker refused the subscription to ${refused.map((g) => g.topic).join(', ')}`));
        resolve();
      });
    });

  const publish = (topic: string, payload: Buffer | string, opts: IClientPublishOptions = { qos: 1 }): Promise<void> => {
    const p = new Promise<void>((resolve, reject) => client.publish(topic, payload, opts, (err) => (err ? reject(err) : resolve())));
    inflight.add(p);
    const forget = (): void => void inflight.delete(p);
    p.then(forget, forget);
    return p;
  };

  const backoff = (attempt: number): number => {
    const d = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 20));
    return Math.round(d * (0.5 + Math.random() * 0.5));
  };

  /** QoS 1 until the broker acknowledged it; MQTT.js keeps it across reconnects, an error means try again */
  const publishReliably = async (topic: string, body: Buffer, p: PendingSubmit): Promise<boolean> => {
    for (let attempt = 1; ; attempt++) {
      if (p.closed) return false;
      try {
        await publish(topic, body);
        return true;
      } catch {
        const ev = await p.next(backoff(attempt));
        if (ev.kind === 'closed') return false;
        if (ev.kind === 'result') p.inbox.unshift(ev.result);
      }
    }
  };

  const deliver = (gatewayId: string, result: ReceiptResultJson, relayed: boolean): void => {
    const p = pendingSubmits.get(key(gatewayId, result.external_id));
    if (p) return p.push(result);
    if (relayed || recentlyDone.has(key(gatewayId, result.external_id))) return; // another backend already handled it from the shared stream
    events.emit('result', result, gatewayId);
    if (relayTopic !== undefined) {
      publish(relayTopic, JSON.stringify({ gateway_id: gatewayId, result }), { qos: 1 }).catch(() => undefined);
    }
  };

  client.on('message', (topic, payload) => {
    if (relayTopic !== undefined && topic === relayTopic) {
      const m = parseJson(payload) as { gateway_id?: unknown; result?: unknown } | undefined;
      if (m && typeof m.gateway_id === 'string' && isResult(m.result)) deliver(m.gateway_id, m.result, true);
      return;
    }
    if (!topic.startsWith(`${prefix}/`)) return;
    const rest = topic.slice(prefix.length + 1).split('/');
    const gatewayId = rest[0];
    if (gatewayId === undefined) return;
    if (rest.length === 2 && rest[1] === 'result') {
      const r = parseJson(payload);
      if (isResult(r)) deliver(gatewayId, r, false);
      return;
    }
    if (rest.length === 3 && rest[1] === 'response' && rest[2] !== undefined) {
      const r = parseJson(payload) as CommandResponse | undefined;
      if (!r || typeof r !== 'object' || typeof r.transaction !== 'string') return;
      const c = pendingCommands.get(key(gatewayId, rest[2], r.transaction));
      c?.resolve(r);
    }
  });

  let connectedOnce = false;
  client.on('connect', () => {
    reconnectMs = reconnectMin;
    client.options.reconnectPeriod = reconnectMin;
    if (!connectedOnce) return; // the first connection subscribes below
    // subscribe on every reconnect: a broker that lost the session (restart without persistence) lost them too
    subscribe().catch((err: Error) => {
      // without its subscriptions the client would wait for results that never come: reconnect and try again
      client.stream?.destroy(err);
    });
  });
  client.on('close', () => {
    if (closing) return;
    reconnectMs = Math.min(reconnectMs * 2, Math.max(maxMs, reconnectMin));
    client.options.reconnectPeriod = reconnectMs;
  });

  // MQTT.js reports connection errors and reconnects by itself; the client's own view is `client.mqtt.connected`
  client.on('error', () => undefined);
  // the first connection: subscribed, or a clear error (refused, unreachable, timed out, not authorized)
  await new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (err: Error): void => void (lastError = err);
    const fail = (err?: Error): void => {
      client.removeListener('connect', onConnect);
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      client.end(true);
      reject(new KktClientError('CONNECT', `cannot connect to ${url}: ${(err ?? lastError)?.message ?? 'connection closed'}`));
    };
    const onClose = (): void => fail();
    const onConnect = (): void => {
      connectedOnce = true;
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      subscribe().then(resolve, fail);
    };
    client.on('error', onError);
    client.once('close', onClose);
    client.once('connect', onConnect);
  });

  const command = <D = unknown>(gatewayId: string, name: CommandName, params: Record<string, unknown> = {}, opts: CommandOptions = {}): Promise<CommandResponse<D>> => {
    try {
      checkGatewayId(gatewayId);
      if (typeof name !== 'string' || name.length === 0 || /[/+#]/.test(name)) throw badInput(`bad command name ${JSON.stringify(name)}`);
      if (typeof params !== 'object' || params === null || Array.isArray(params)) throw badInput('command params must be an object');
    } catch (err) {
      return Promise.reject(err);
    }
    if (closing) return Promise.reject(new KktClientError('CLOSED', 'the client is closed'));
    const transaction = `kkt-client-${randomUUID()}`;
    const k = key(gatewayId, name, transaction);
    const timeoutMs = opts.timeoutMs ?? commandTimeoutMs;
    return new Promise<CommandResponse<D>>((resolve, reject) => {
      const timer = setTimeout(() => {
        pendingCommands.delete(k);
        reject(new KktClientError('TIMEOUT', `no response to ${name} from ${gatewayId} within ${timeoutMs} ms`));
      }, timeoutMs);
      pendingCommands.set(k, {
        resolve: (r) => {
          clearTimeout(timer);
          pendingCommands.delete(k);
          resolve(r as CommandResponse<D>);
        },
        reject: (e) => {
          clearTimeout(timer);
          pendingCommands.delete(k);
          reject(e);
        },
      });
      publish(`${prefix}/${gatewayId}/request/${name}`, JSON.stringify({ ...params, transaction })).catch(() => {
        // MQTT.js gave up on it (closing): the timeout or close() answers
      });
    });
  };

  const run = async (gatewayId: string, externalId: string, p: PendingSubmit, opts: SubmitOptions): Promise<FinalResult> => {
    const topic = `${prefix}/${gatewayId}/receipt`;
    let fails = 0;
    let phase: 'publish' | 'result' | 'backoff' = 'publish';
    let waitMs = resultTimeoutMs;
    let last: ReceiptResultJson | undefined;
    let acceptedSeen = false;
    for (;;) {
      if (phase === 'publish') {
        if (!(await publishReliably(topic, p.body, p))) break;
        phase = 'result';
        waitMs = resultTimeoutMs;
      }
      const ev = await p.next(waitMs);
      if (ev.kind === 'closed') break;
      if (ev.kind === 'result') {
        const r = ev.result;
        last = r;
        if (r.status === 'accepted') {
          if (!acceptedSeen) {
            acceptedSeen = true;
            try {
              opts.onAccepted?.(r);
            } catch {
              // the caller's callback must not break the submit
            }
          }
          continue;
        }
        if (r.status === 'done' || !r.error?.retryable) return r as FinalResult;
        // QUEUE_FULL, STORAGE, …: the same bytes again after a backoff
        fails++;
        if (retry.maxAttempts !== undefined && fails >= retry.maxAttempts) {
          throw new KktClientError('RETRIES_EXHAUSTED', `${externalId}: ${fails} retryable fails (${r.error?.code})`, r);
        }
        phase = 'backoff';
        waitMs = backoff(fails);
        continue;
      }
      // a timeout
      if (phase === 'backoff') {
        phase = 'publish';
        continue;
      }
      if (!client.connected) continue; // MQTT.js re-sends the publish when the connection is back
      let resp: CommandResponse | undefined;
      try {
        resp = await command(gatewayId, 'result', { external_id: externalId });
      } catch {
        continue; // no answer: ask again at the next deadline
      }
      if (resp.status === 'error' && resp.error?.code === 'NOT_FOUND') {
        // the gateway never got it (or refused it before storing): the same bytes again
        phase = 'publish';
      }
      // otherwise it re-publishes the stored result on <base>/result: wait for it
    }
    throw new KktClientError('CLOSED', `${externalId}: the client was closed before its final result`, last);
  };

  const submit: KktClient['submit'] = (gatewayId, request, opts = {}) => {
    let body: Buffer;
    let externalId: string;
    try {
      checkGatewayId(gatewayId);
      ({ body, externalId } = receiptBytes(request));
    } catch (err) {
      return Promise.reject(err);
    }
    if (closing) return Promise.reject(new KktClientError('CLOSED', 'the client is closed'));
    const k = key(gatewayId, externalId);
    const existing = pendingSubmits.get(k);
    if (existing) {
      if (existing.body.equals(body)) return existing.promise.value!;
      return Promise.reject(new KktClientError('DUPLICATE_MISMATCH', `a submit of ${externalId} with another body is pending`));
    }
    const holder: { value?: Promise<FinalResult> } = {};
    const p = new PendingSubmit(k, body, holder);
    pendingSubmits.set(k, p);
    let overall: NodeJS.Timeout | undefined;
    const done = run(gatewayId, externalId, p, opts);
    const raced =
      opts.timeoutMs === undefined
        ? done
        : Promise.race([
            done,
            new Promise<never>((_, reject) => {
              overall = setTimeout(() => {
                p.close();
                reject(new KktClientError('TIMEOUT', `${externalId}: no final result within ${opts.timeoutMs} ms`));
              }, opts.timeoutMs);
            }),
          ]);
    done.catch(() => undefined);
    holder.value = raced.finally(() => {
      if (overall) clearTimeout(overall);
      p.close();
      if (pendingSubmits.get(k) === p) pendingSubmits.delete(k);
    });
    // a final result seen again is a duplicate; after a TIMEOUT/CLOSED a late one still goes to onResult
    holder.value.then(() => remember(k), () => undefined);
    return holder.value;
  };

  return {
    mqtt: client,
    clientId,
    submit,
    command,
    onResult(listener) {
      events.on('result', listener);
      return () => void events.off('result', listener);
    },
    get pending() {
      return pendingSubmits.size;
    },
    async close({ timeoutMs = 10_000 } = {}) {
      if (closing) return;
      closing = true;
      // what was handed to the broker gets its PUBACK first (bounded: a broker that is away does not hold us forever)
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
      for (const p of pendingSubmits.values()) p.close();
      for (const c of pendingCommands.values()) c.reject(new KktClientError('CLOSED', 'the client was closed'));
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => client.end(true, {}, () => resolve()), 2000);
        client.end(!client.connected, {}, () => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
