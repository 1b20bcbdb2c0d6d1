/**
 * The MQTT side of the gateway (MQTT.js): a persistent session with a fixed client id, QoS 1 subscriptions,
 * write-before-ack for incoming messages, retained state with a last will, retained health.
 */
import { readFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt';
import type { Logger } from '../log.ts';
import type { Config } from '../config/index.ts';

export interface Topics {
  receipt: string;
  requestPrefix: string;
  result: string;
  zreport: string;
  state: string;
  health: string;
  response(command: string): string;
}

export function topicsFor(base: string): Topics {
  return {
    receipt: `${base}/receipt`,
    requestPrefix: `${base}/request/`,
    result: `${base}/result`,
    zreport: `${base}/zreport`,
    state: `${base}/state`,
    health: `${base}/health`,
    response: (command) => `${base}/response/${command}`,
  };
}

/** Called for every incoming message; the broker gets its PUBACK only after the promise resolves. */
export type MessageHandler = (topic: string, payload: Buffer) => Promise<void>;

export interface BridgeOptions {
  mqtt: Config['mqtt'];
  logger: Logger;
  onMessage: MessageHandler;
  /** injectable for tests */
  connect?: (url: string, opts: IClientOptions) => MqttClient;
}

/** A message being stored, and what became of it. */
interface Pending {
  stream: MqttClient['stream'];
  /** undefined for QoS 0 (no PUBACK) */
  messageId: number | undefined;
  topic: string;
  state: 'storing' | 'stored' | 'failed';
}

/** messages stored at once from one connection at most; MQTT.js reads no further packet meanwhile */
const MAX_IN_FLIGHT = 1000;
/** what the bridge hands MQTT.js's handleMessage callback so that it sends no PUBACK of its own */
const NOT_YET = new Error('acknowledged by the bridge once stored');

export const OFFLINE = JSON.stringify({ state: 'offline' });
export const ONLINE = JSON.stringify({ state: 'online' });

export function clientOptions(cfg: Config['mqtt']): IClientOptions {
  const topics = topicsFor(cfg.base_topic);
  const opts: IClientOptions = {
    clientId: cfg.client_id,
    clean: false,
    protocolVersion: cfg.protocol_version,
    keepalive: cfg.keepalive,
    reconnectPeriod: cfg.reconnect_min_ms,
    connectTimeout: 30_000,
    resubscribe: true,
    queueQoSZero: false,
    will: { topic: topics.state, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
    rejectUnauthorized: cfg.reject_unauthorized,
    // no table of 65,536 pre-made 2-byte Buffers for the packets' numbers (mqtt-packet builds it on the first write
    // otherwise: ~6.5 MB of heap for the life of the process, a tenth of the gateway's idle memory on a Pi; issue 17 P4).
    // A number is then a fresh 2-byte Buffer when a packet is written: nothing measurable at a gateway's packet rate.
    writeCache: false,
  };
  if (cfg.protocol_version === 5) opts.properties = { sessionExpiryInterval: 7 * 24 * 3600 };
  if (cfg.username !== undefined) opts.username = cfg.username;
  if (cfg.password !== undefined) opts.password = cfg.password;
  if (cfg.ca) opts.ca = readFileSync(cfg.ca);
  if (cfg.cert) opts.cert = readFileSync(cfg.cert);
  if (cfg.key) opts.key = readFileSync(cfg.key);
  return opts;
}

/** Emits 'connect' once subscribed (receipts can flow), 'offline' when the connection is lost. */
export class MqttBridge extends EventEmitter {
  readonly topics: Topics;
  private client: MqttClient | undefined;
  private backoffMs: number;
  private stopping = false;
  /** messages of the current connection being stored, in arrival order: their PUBACKs go out in this order */
  private pending: Pending[] = [];
  /** MQTT.js's callbacks held back while MAX_IN_FLIGHT messages are being stored (back-pressure on the socket) */
  private held: Array<() => void> = [];

  constructor(private readonly opts: BridgeOptions) {
    super();
    this.topics = topicsFor(opts.mqtt.base_topic);
    this.backoffMs = opts.mqtt.reconnect_min_ms;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  get brokerUrl(): string {
    return this.opts.mqtt.url;
  }

  start(): void {
    const { mqtt: cfg, logger } = this.opts;
    const connect = this.opts.connect ?? mqtt.connect;
    const client = connect(cfg.url, clientOptions(cfg));
    this.client = client;
    client.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => this.take(client, packet, done);
    client.on('connect', (connack) => {
      // small packets at once: a PUBLISH right after a PUBACK must not wait for the broker's delayed ACK (≈40 ms)
      (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
      this.backoffMs = cfg.reconnect_min_ms;
      client.options.reconnectPeriod = cfg.reconnect_min_ms;
      logger.info({ broker: cfg.url, sessionPresent: connack.sessionPresent }, 'MQTT connected');
      const subscribed = (): void => {
        client.publish(this.topics.state, ONLINE, { qos: 1, retain: true });
        this.emit('connect');
      };
      if (connack.sessionPresent) return subscribed();
      client.subscribe([this.topics.receipt, `${this.topics.requestPrefix}+`], { qos: 1 }, (err) => {
        if (err) {
          logger.error({ err }, 'MQTT subscribe failed; reconnecting');
          client.stream.destroy(err);
          return;
        }
        subscribed();
      });
    });
    client.on('close', () => {
      // the connection's packets are dropped by MQTT.js: let its reader go (nothing of it is acknowledged any more)
      const held = this.held;
      this.held = [];
      for (const next of held) next();
      if (this.stopping) return;
      // exponential backoff between reconnects, reset on success
      this.backoffMs = Math.min(this.backoffMs * 2, cfg.reconnect_max_ms);
      client.options.reconnectPeriod = this.backoffMs;
      this.emit('offline');
    });
    client.on('error', (err) => logger.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'MQTT error'));
  }

  /**
   * An incoming PUBLISH. MQTT.js hands over the next packet only after this one's callback, and sends the PUBACK from
   * that callback: one message at a time, each waiting for its own synced write. So the handler is started here and
   * MQTT.js is told at once (with an error, which makes it send no PUBACK) to go on: the messages that arrived together
   * are handled together, their accepts land in one group-committed batch (QueueStore.accept), and the PUBACK of each
   * is written here, in arrival order, once its handler resolved, and only on the connection it came on.
   */
  private take(client: MqttClient, packet: IPublishPacket, done: (err?: Error) => void): void {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    // the connection this message came on: its PUBACK is meaningful only there
    const stream = client.stream;
    const entry: Pending = { stream, messageId: packet.qos > 0 ? packet.messageId : undefined, topic: packet.topic, state: 'storing' };
    if (this.pending.length > 0 && this.pending[0]!.stream !== stream) this.pending = [];
    this.pending.push(entry);
    this.opts.onMessage(packet.topic, payload).then(
      () => {
        entry.state = 'stored';
        this.flushAcks(client);
      },
      (err: Error) => {
        entry.state = 'failed';
        // not acknowledged: drop the connection so that nothing after it is taken either, and the broker
        // redelivers it (persistent session) when we are back, after the reconnect backoff
        this.opts.logger.error({ err: { message: err.message, code: (err as { code?: string }).code }, topic: packet.topic }, 'message not stored; not acknowledged, reconnecting for a redelivery');
        this.emit('refused', err);
        this.flushAcks(client);
      },
    );
    // no PUBACK from MQTT.js (ours is sent by flushAcks); the next packet now, or once fewer are being stored
    const next = (): void => done(NOT_YET);
    if (this.pending.length < MAX_IN_FLIGHT) next();
    else this.held.push(next);
  }

  /** Sends the PUBACKs of the stored messages at the head of `pending`, in arrival order. */
  private flushAcks(client: MqttClient): void {
    while (this.pending.length > 0 && this.pending[0]!.state !== 'storing') {
      const e = this.pending.shift()!;
      if (client.stream !== e.stream || !client.connected) {
        // Stored, but the connection it came on is gone. A PUBACK on the next connection could name another message
        // (a broker that restarted without persistence numbers afresh): that one would be acknowledged before it is
        // stored. So no PUBACK: a broker that kept the session redelivers it, and the duplicate re-publishes its result.
        if (e.state === 'stored') this.opts.logger.info({ topic: e.topic, messageId: e.messageId }, 'message stored after its connection was lost; not acknowledged on the new one');
        continue;
      }
      if (e.state === 'failed') {
        // nothing after it is acknowledged on this connection either: all of it is redelivered
        this.pending = [];
        e.stream.destroy();
        break;
      }
      if (e.messageId !== undefined) (client as unknown as { _writePacket(p: object): void })._writePacket({ cmd: 'puback', messageId: e.messageId, reasonCode: 0 });
    }
    while (this.held.length > 0 && this.pending.length < MAX_IN_FLIGHT) this.held.shift()!();
  }

  /**
   * QoS 1 publish; resolves when the broker acknowledged it. A message handler (onMessage) must not wait for this:
   * MQTT.js stops reading packets while MAX_IN_FLIGHT messages are being stored, so the PUBACK could not be read
   * until a handler returned. No handler does (its answers go through the outbox, whose pump is kicked and not
   * awaited; ingest's `publishNow` is fire-and-forget). There is no async context to tell a handler's calls apart:
   * an AsyncLocalStorage here switched on Node's promise hooks for every promise in the process, the driver's
   * byte reads included (issue 17: CPU per receipt).
   */
  publish(topic: string, payload: string | Buffer, opts: { retain?: boolean } = {}): Promise<void> {
    const client = this.client;
    if (!client || !client.connected) return Promise.reject(new Error('MQTT not connected'));
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: 1, retain: opts.retain === true }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Publishes `offline` (retained) and disconnects cleanly, keeping the persistent session. */
  async stop(): Promise<void> {
    this.stopping = true;
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      await this.publish(this.topics.state, OFFLINE, { retain: true }).catch(() => undefined);
    }
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }
}
