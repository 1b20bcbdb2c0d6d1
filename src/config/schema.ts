/** The configuration file: JSON, validated by this schema (ajv), every field but the register's port defaulted. */
import type { TaxSystem } from '../../drivers/types.ts';
import { PROTOCOLS, type ProtocolName } from '../../drivers/protocols.ts';

export interface Config {
  gateway_id: string;
  data_dir: string;
  mqtt: {
    url: string;
    client_id: string;
    base_topic: string;
    protocol_version: 4 | 5;
    username?: string;
    password?: string;
    ca?: string;
    cert?: string;
    key?: string;
    reject_unauthorized: boolean;
    keepalive: number;
    reconnect_min_ms: number;
    reconnect_max_ms: number;
    health_interval: number;
  };
  /** one register (a pool of one); or `devices` for several — exactly one of the two (src/config/devices.ts) */
  device?: DeviceConfig;
  /** several registers on this gateway (a pool sharing one queue) */
  devices?: PoolDeviceConfig[];
  fiscal: {
    tax_systems: TaxSystem[];
    company_inn?: string;
    /** tag 1037, for results and Z-reports when the register does not tell it (the Shtrih driver reads no tables) */
    registration_number?: string;
    /** the OFD's page of a document: `https://…/{inn}/{rn}/{fn}/{fd}/{fp}` (src/fiscal/link.ts) */
    ofd_link?: string;
    cashier?: { name: string; inn?: string };
    require_customer_contact: boolean;
    max_items: number;
  };
  shift: {
    /** local time "HH:MM" at which the shift is closed every day */
    close_at: string;
    /** close at the latest this many hours after opening (a shift may not last 24 h) */
    max_hours: number;
    /** a pool's registers close their day this many minutes apart (register i at close_at + i × stagger) */
    stagger_minutes: number;
  };
  queue: {
    max_receipts: number;
    retention_days: number;
  };
  web: {
    host: string;
    /** plain HTTP: redirects to https_port (with tls false: the page itself, for tests and development only) */
    port: number;
    /** HTTPS: the page */
    https_port: number;
    /** HTTPS (default true); false serves the page over plain HTTP on `port` — tests and development only */
    tls: boolean;
    /** the installer's own certificate and key (PEM files); without them a self-signed pair is made in data_dir */
    tls_cert?: string;
    tls_key?: string;
  };
  security: {
    /** HMAC-SHA256 signed receipts and commands (see README §Signed messages) */
    signing: {
      enabled: boolean;
      /** every key listed is valid (two at once while rotating) */
      keys: Array<{ id: string; secret: string }>;
      /** a signed message older than this (by its `ts`) is refused as a replay; keep it below queue.retention_days */
      max_age_s: number;
      /** tolerated clock skew of a `ts` from the future */
      max_skew_s: number;
    };
  };
  log: { level: 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
  /** FN / OFD / clock watch in health (docs/fiscal.md) */
  watch: WatchConfig;
}

export interface DeviceConfig {
  /** the register's id in results, health, commands' `device` (default `kkt1`) */
  id?: string;
  /** a name for people, e.g. «Касса общего зала» */
  name?: string;
  port: string;
  /** which register family; `auto` asks the port (src/device/detect.ts) */
  protocol: 'auto' | ProtocolName;
  baud_rate: number;
  /** sysadmin password (30 by default) */
  password: number;
  answer_timeout_ms?: number;
  /** this register's registration overrides (else `fiscal.*`, else what the register says) */
  company_inn?: string;
  tax_systems?: TaxSystem[];
  registration_number?: string;
}

export interface PoolDeviceConfig extends DeviceConfig {
  id: string;
}

export interface WatchConfig {
  /** oldest document not sent to the OFD: warn / critical at this age in days (the register blocks at 30) */
  ofd_warn_days: number;
  ofd_critical_days: number;
  /** FN expiry: warn / critical this many days before */
  fn_warn_days: number;
  fn_critical_days: number;
  /** host clock vs register clock: above this the host clock is treated as unsynchronised */
  clock_drift_max_s: number;
}

const taxSystems = ['osn', 'usn_income', 'usn_income_outcome', 'envd', 'esn', 'patent'];

/** one register's settings; in `devices` the id is required */
function deviceSchema(idRequired: boolean) {
  return {
    type: 'object',
    additionalProperties: false,
    required: idRequired ? ['id', 'port'] : ['port'],
    properties: {
      id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$' },
      name: { type: 'string', maxLength: 64 },
      port: { type: 'string', minLength: 1 },
      protocol: { enum: ['auto', ...PROTOCOLS], default: 'auto' },
      baud_rate: { enum: [2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600], default: 115200 },
      password: { type: 'integer', minimum: 0, maximum: 99999999, default: 30 },
      answer_timeout_ms: { type: 'integer', minimum: 100, maximum: 600000 },
      company_inn: { type: 'string', pattern: '^([0-9]{10}|[0-9]{12})$' },
      tax_systems: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: taxSystems } },
      registration_number: { type: 'string', pattern: '^[0-9]{1,20}$' },
    },
  } as const;
}

/** JSON schema; `{{id}}` in string defaults is replaced by gateway_id after validation. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  // exactly one of `device` and `devices` (checked in parseConfig for a clear message)
  properties: {
    gateway_id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{0,64}$', default: '', description: 'empty: the host name' },
    data_dir: { type: 'string', minLength: 1, default: './data' },
    mqtt: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        url: { type: 'string', pattern: '^(mqtts?|wss?|tcp|ssl)://.+', default: 'mqtt://localhost:1883' },
        client_id: { type: 'string', minLength: 1, maxLength: 128, default: 'kkt-gateway-{{id}}' },
        base_topic: { type: 'string', pattern: '^[^#+]+[^/#+]$', default: 'kkt/{{id}}' },
        protocol_version: { enum: [4, 5], default: 5 },
        username: { type: 'string' },
        password: { type: 'string' },
        ca: { type: 'string', description: 'path of a PEM CA file' },
        cert: { type: 'string', description: 'path of a PEM client certificate' },
        key: { type: 'string', description: 'path of a PEM client key' },
        reject_unauthorized: { type: 'boolean', default: true },
        keepalive: { type: 'integer', minimum: 5, maximum: 3600, default: 30 },
        reconnect_min_ms: { type: 'integer', minimum: 100, maximum: 600000, default: 1000 },
        reconnect_max_ms: { type: 'integer', minimum: 100, maximum: 3600000, default: 60000 },
        health_interval: { type: 'integer', minimum: 1, maximum: 86400, default: 30 },
      },
    },
    device: deviceSchema(false),
    devices: { type: 'array', minItems: 1, maxItems: 8, items: deviceSchema(true) },
    fiscal: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        tax_systems: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: taxSystems }, default: ['osn'] },
        company_inn: { type: 'string', pattern: '^([0-9]{10}|[0-9]{12})$' },
        registration_number: { type: 'string', pattern: '^[0-9]{1,20}$' },
        ofd_link: { type: 'string', pattern: '^https?://[^\\s]+$', maxLength: 500, description: 'placeholders {inn} {rn} {fn} {fd} {fp} {qr}' },
        cashier: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 64 },
            inn: { type: 'string', pattern: '^[0-9]{12}$' },
          },
        },
        require_customer_contact: { type: 'boolean', default: true },
        max_items: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
      },
    },
    shift: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        close_at: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', default: '03:00' },
        max_hours: { type: 'number', minimum: 1, maximum: 23.9, default: 23.5 },
        stagger_minutes: { type: 'integer', minimum: 1, maximum: 120, default: 15 },
      },
    },
    queue: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_receipts: { type: 'integer', minimum: 1, maximum: 10000000, default: 100000 },
        retention_days: { type: 'integer', minimum: 1, maximum: 3650, default: 30 },
      },
    },
    web: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', minLength: 1, default: '0.0.0.0' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
        https_port: { type: 'integer', minimum: 0, maximum: 65535, default: 8443 },
        tls: { type: 'boolean', default: true },
        tls_cert: { type: 'string', minLength: 1 },
        tls_key: { type: 'string', minLength: 1 },
      },
      dependentRequired: { tls_cert: ['tls_key'], tls_key: ['tls_cert'] },
    },
    security: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        signing: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: false },
            keys: {
              type: 'array',
              maxItems: 8,
              default: [],
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['id', 'secret'],
                properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$' }, secret: { type: 'string', minLength: 16, maxLength: 512 } },
              },
            },
            max_age_s: { type: 'integer', minimum: 60, maximum: 30 * 86400, default: 7 * 86400 },
            max_skew_s: { type: 'integer', minimum: 0, maximum: 86400, default: 300 },
          },
        },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { level: { enum: ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info' } },
    },
    watch: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        ofd_warn_days: { type: 'integer', minimum: 1, maximum: 29, default: 3 },
        ofd_critical_days: { type: 'integer', minimum: 1, maximum: 29, default: 20 },
        fn_warn_days: { type: 'integer', minimum: 1, maximum: 365, default: 30 },
        fn_critical_days: { type: 'integer', minimum: 1, maximum: 365, default: 3 },
        clock_drift_max_s: { type: 'integer', minimum: 1, maximum: 86400, default: 300 },
      },
    },
  },
} as const;

/** Dotted paths of fields never to be shown in clear (logs, health, web); `[]` walks an array. */
export const secretPaths = ['mqtt.password', 'security.signing.keys[].secret'] as const;

