/** kkt-gateway command line: run, ports, demo. */
import { parseArgs } from 'node:util';
import { loadConfig, defaultConfigPath, defaultDataDir, secretValues, ConfigError, type Config, type ConfigOverrides } from './config/index.ts';
import { createLogger, LogRing, type Logger } from './log.ts';
import { authFileIn, buildWebApp, startWeb, type WebDeps } from './web/server.ts';
import { pageTls, redirectServer } from './web/tls.ts';
import { resetUsers } from './web/users.ts';
import { promises as fs } from 'node:fs';
import { buildGateway } from './app.ts';
import { listCandidates } from './device/ports.ts';
import { createNotifier } from './system/sd-notify.ts';
import { serve } from './system/lifecycle.ts';
import { formatCandidates } from './device/ports-format.ts';
import { registersOf } from './config/devices.ts';
import { identify, type Identified } from './device/identify.ts';
import { PROTOCOLS, type ProtocolName } from '../drivers/protocols.ts';
import { explainOpenError, levelCode, repairDb } from './queue/repair.ts';
import * as path from 'node:path';

const USAGE = `kkt-gateway — MQTT → fiscal register (ККТ) gateway

Usage:
  kkt-gateway run   [--config FILE] [--mqtt-url URL] [--base-topic T] [--device [ID=]PATH|tcp://host:port]…
                    [--data-dir DIR] [--web-port N]
                                    --device repeated: a pool of registers (ids kkt1, kkt2… unless ID= is given)
  kkt-gateway ports [--device PATH|tcp://host:port]… [--no-probe]
                                    list serial/USB candidates and ask each which register answers
  kkt-gateway demo  [--once] [--protocol shtrih|atol]
                                    embedded broker + emulator + gateway, one sample receipt
  kkt-gateway repair-db [--config FILE | --data-dir DIR]
                                    repair a damaged receipt database (a copy is kept aside first)
  kkt-gateway reset-password [--config FILE | --data-dir DIR]
                                    remove the web page's users: the page asks for a new setup code (restart after)
  kkt-gateway fleet --mqtt-url URL [--base kkt] [--listen HOST:PORT] [--config FILE]
                                    the fleet monitor: /metrics, alerts, the fleet page
  kkt-gateway request --mqtt-url URL [--base kkt] [--timeout S] <gateway_id> <command> [json]
                                    send one command to a gateway and print its response

The configuration file is JSON (default: $KKT_GATEWAY_CONFIG, else $CONFIGURATION_DIRECTORY/config.json,
else ./config.json); flags override it.`;

const options = {
  config: { type: 'string' },
  'mqtt-url': { type: 'string' },
  'base-topic': { type: 'string' },
  device: { type: 'string', multiple: true },
  'no-probe': { type: 'boolean' },
  'data-dir': { type: 'string' },
  'web-port': { type: 'string' },
  once: { type: 'boolean' },
  protocol: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

/** a flag given once or repeated: its last value */
function lastOf(v: string | boolean | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : typeof v === 'string' ? v : undefined;
}

function overridesFrom(v: Values): ConfigOverrides {
  const o: ConfigOverrides = {};
  if (typeof v['mqtt-url'] === 'string') o.mqttUrl = v['mqtt-url'];
  if (typeof v['base-topic'] === 'string') o.baseTopic = v['base-topic'];
  const devices = Array.isArray(v.device) ? v.device : typeof v.device === 'string' ? [v.device] : [];
  if (devices.length > 0) o.device = devices;
  if (typeof v['data-dir'] === 'string') o.dataDir = v['data-dir'];
  if (typeof v['web-port'] === 'string') o.webPort = Number(v['web-port']);
  return o;
}

type WebListen = Config['web'] & { dataDir: string };

/**
 * Serves the web page over HTTPS on web.https_port (the data directory's self-signed certificate, made at the first
 * start, or the installer's) with plain HTTP on web.port answering a redirect; with web.tls false, plain HTTP on
 * web.port (tests and development only). A failure to listen is logged, never fatal (receipts matter more).
 */
async function serveWeb(deps: WebDeps, w: WebListen): Promise<() => Promise<void>> {
  const { host, port } = w;
  let tls;
  if (w.tls) {
    try {
      tls = await pageTls(w.dataDir, { ...(w.tls_cert ? { cert: w.tls_cert } : {}), ...(w.tls_key ? { key: w.tls_key } : {}) });
      deps.logger.info({ fingerprint_sha256: tls.fingerprint, cert: tls.certFile, source: tls.source }, 'web page certificate');
    } catch (err) {
      deps.logger.error({ err: { message: (err as Error).message } }, 'web page certificate unusable; the gateway runs without the page');
      return async () => undefined;
    }
  }
  const app = await buildWebApp({ ...deps, ...(tls ? { https: { cert: tls.cert, key: tls.key }, secure: true, tlsFingerprint: tls.fingerprint } : {}) });
  let redirect: ReturnType<typeof redirectServer> | undefined;
  try {
    const url = await startWeb(app, host, tls ? w.https_port : port);
    deps.logger.info({ url }, 'web page listening');
    if (tls) {
      const httpsPort = (app.server.address() as { port: number }).port;
      redirect = redirectServer(httpsPort);
      await new Promise<void>((resolve, reject) => {
        redirect!.once('error', reject);
        redirect!.listen(port, host, () => resolve());
      });
      deps.logger.info({ port: (redirect.address() as { port: number }).port, to: httpsPort }, 'web page: plain HTTP redirects to HTTPS');
    }
  } catch (err) {
    deps.logger.error({ err: { message: (err as Error).message }, host, port }, 'web page could not listen; the gateway runs without it');
  }
  return async () => {
    redirect?.close();
    await app.close();
  };
}

/** --data-dir, else the configuration file's data_dir */
async function dataDirOf(values: Values): Promise<string | undefined> {
  if (typeof values['data-dir'] === 'string') return values['data-dir'];
  const file = typeof values.config === 'string' ? values.config : defaultConfigPath();
  return (await loadConfig(file, overridesFrom(values)).catch(() => undefined))?.data_dir;
}

/** `kkt-gateway reset-password`: the page's users removed, the first-run claim starts again */
async function resetPasswordCommand(values: Values): Promise<number> {
  const dataDir = await dataDirOf(values);
  if (!dataDir) {
    process.stderr.write('give --data-dir DIR (the directory that holds web-users.json)\n');
    return 64;
  }
  const removed = await resetUsers(dataDir);
  process.stdout.write(removed.length
    ? `removed ${removed.join(', ')}\nrestart the service (systemctl restart kkt-gateway): the page then asks for a setup code printed on the register\n`
    : `no web page users in ${path.resolve(dataDir)}: the page already asks for a setup code\n`);
  return 0;
}

/** asks this process to stop gracefully; systemd (Restart=always) starts it again */
const restartSelf = (): void => {
  process.kill(process.pid, 'SIGTERM');
};

/**
 * Safe mode: the configuration cannot be used, so only the web page runs, for the installer to fix it (instead of
 * a crash loop under systemd). Nothing is printed; the queue is not opened.
 */
async function safeMode(file: string, err: ConfigError, values: Values): Promise<number> {
  let raw: Record<string, any> | undefined;
  try {
    const v: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) raw = v as Record<string, any>;
  } catch {
    /* missing or not JSON: the page starts from an empty form */
  }
  const ring = new LogRing();
  const logger = createLogger({ level: 'info', ring });
  process.stderr.write(`${err.message}\n`);
  logger.error({ file, problems: err.problems }, 'invalid configuration: SAFE MODE — only the web page runs; fix the settings there');
  const o = overridesFrom(values);
  const host = typeof raw?.web?.host === 'string' ? raw.web.host : '0.0.0.0';
  const port = o.webPort ?? (Number.isInteger(raw?.web?.port) ? (raw!.web.port as number) : 8080);
  const dataDir = o.dataDir ?? (typeof raw?.data_dir === 'string' ? raw.data_dir : (defaultDataDir() ?? './data'));
  const web = (raw?.web && typeof raw.web === 'object' ? raw.web : {}) as Record<string, unknown>;
  const close = await serveWeb({ logger, ring, authFile: authFileIn(dataDir), configFile: file, safeMode: { problems: err.problems, raw }, listPorts: () => listCandidates(), restart: restartSelf }, {
    host, port, dataDir,
    https_port: Number.isInteger(web.https_port) ? (web.https_port as number) : 8443,
    tls: web.tls !== false,
    ...(typeof web.tls_cert === 'string' ? { tls_cert: web.tls_cert } : {}),
    ...(typeof web.tls_key === 'string' ? { tls_key: web.tls_key } : {}),
  });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await close();
  logger.info('safe mode stopped');
  return 0;
}

async function run(values: Values): Promise<number> {
  const file = typeof values.config === 'string' ? values.config : defaultConfigPath();
  let config;
  try {
    config = await loadConfig(file, overridesFrom(values));
  } catch (err) {
    if (err instanceof ConfigError) return safeMode(file, err, values);
    throw err;
  }
  const ring = new LogRing();
  const logger: Logger = createLogger({ level: config.log.level, secrets: secretValues(config), ring });
  let gw;
  try {
    gw = await buildGateway({ config, logger });
  } catch (err) {
    if (!levelCode(err) && (err as { code?: string }).code !== 'STORAGE') throw err;
    const message = explainOpenError(err, path.resolve(config.data_dir, 'queue'));
    logger.fatal({ err: { message: (err as Error).message } }, message);
    process.stderr.write(`${message}\n`);
    return 74; // EX_IOERR
  }
  logger.info({ base: config.mqtt.base_topic, broker: config.mqtt.url, devices: registersOf(config).map((d) => `${d.id}=${d.port}`), data: config.data_dir }, 'kkt-gateway starting');
  const closeWeb = await serveWeb(
    {
      logger,
      ring,
      authFile: authFileIn(config.data_dir),
      configFile: file,
      gateway: gw,
      listPorts: () => listCandidates(),
      restart: restartSelf,
    },
    { ...config.web, dataDir: config.data_dir },
  );
  const notifier = await createNotifier({ logger });
  try {
    return await serve({ gateway: gw, logger, notifier });
  } finally {
    await closeWeb().catch(() => undefined);
  }
}

async function repairDbCommand(values: Values): Promise<number> {
  const dataDir = await dataDirOf(values);
  if (!dataDir) {
    process.stderr.write('give --data-dir DIR (the directory that holds queue/)\n');
    return 64;
  }
  const dir = path.resolve(dataDir, 'queue');
  const backup = await repairDb(dir);
  process.stdout.write(`the damaged database was copied to ${backup} (keep it until the accountant has checked the journal)\n${dir} repaired; start the gateway again\n`);
  return 0;
}

async function ports(values: Values): Promise<number> {
  const list = await listCandidates();
  const extra = (Array.isArray(values.device) ? values.device : []).filter((d) => !list.some((c) => c.path === d || c.byId === d));
  list.push(...extra.map((p) => ({ path: p })));
  let answers: Map<string, Identified> | undefined;
  if (values['no-probe'] !== true) {
    answers = new Map();
    // one port after another: asking two at once would only share the CPU, and each takes at most a few seconds
    for (const c of list) answers.set(c.path, await identify(c.path));
  }
  process.stdout.write(formatCandidates(list, answers));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // the fleet commands parse their own flags (src/fleet/cli.ts)
  if (command === 'fleet') return (await import('./fleet/cli.ts')).fleetCommand(rest);
  if (command === 'request') return (await import('./fleet/cli.ts')).requestCommand(rest);
  let values: Values;
  try {
    values = parseArgs({ args: rest, options, strict: true }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 64;
  }
  if (values.help || !command || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 64;
  }
  switch (command) {
    case 'run':
      return run(values);
    case 'repair-db':
      return repairDbCommand(values);
    case 'reset-password':
      return resetPasswordCommand(values);
    case 'ports':
      return ports(values);
    case 'demo':
    {
      const protocol = lastOf(values.protocol) ?? 'shtrih';
      if (!(PROTOCOLS as readonly string[]).includes(protocol)) {
        process.stderr.write(`--protocol takes ${PROTOCOLS.join(' or ')}, not ${protocol}\n`);
        return 64;
      }
      return (await import('./cli/demo.ts')).demo({ once: values.once === true, protocol: protocol as ProtocolName });
    }
    default:
      process.stderr.write(`unknown command ${command}\n\n${USAGE}\n`);
      return 64;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    // a missing external tool is one line (what, who needs it, the apt-get command), never a stack trace
    const missingTool = (err as { code?: unknown }).code === 'MISSING_TOOL';
    process.stderr.write(`${missingTool ? `kkt-gateway: ${err.message}` : (err.stack ?? err.message)}\n`);
    process.exitCode = 1;
  },
);
