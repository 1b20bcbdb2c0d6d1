/** kkt-gateway command line: run, ports, demo. */
import { parseArgs } from 'node:util';
import { loadConfig, defaultConfigPath, secretValues, ConfigError, type ConfigOverrides } from './config/index.ts';
import { createLogger } from './log.ts';
import { buildGateway } from './app.ts';
import { listCandidates, preferredPath } from './device/ports.ts';

const USAGE = `kkt-gateway — MQTT → fiscal register (ККТ) gateway

Usage:
  kkt-gateway run   [--config FILE] [--mqtt-url URL] [--base-topic T] [--device PATH|tcp://host:port]
                    [--data-dir DIR] [--web-port N]
  kkt-gateway ports                 list serial/USB candidates for the register
  kkt-gateway demo  [--once]        embedded broker + emulator + gateway, one sample receipt

The configuration file is JSON (default: $KKT_GATEWAY_CONFIG, else $CONFIGURATION_DIRECTORY/config.json,
else ./config.json); flags override it.`;

const options = {
  config: { type: 'string' },
  'mqtt-url': { type: 'string' },
  'base-topic': { type: 'string' },
  device: { type: 'string' },
  'data-dir': { type: 'string' },
  'web-port': { type: 'string' },
  once: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function overridesFrom(v: Record<string, string | boolean | undefined>): ConfigOverrides {
  const o: ConfigOverrides = {};
  if (typeof v['mqtt-url'] === 'string') o.mqttUrl = v['mqtt-url'];
  if (typeof v['base-topic'] === 'string') o.baseTopic = v['base-topic'];
  if (typeof v.device === 'string') o.device = v.device;
  if (typeof v['data-dir'] === 'string') o.dataDir = v['data-dir'];
  if (typeof v['web-port'] === 'string') o.webPort = Number(v['web-port']);
  return o;
}

async function run(values: Record<string, string | boolean | undefined>): Promise<number> {
  const file = typeof values.config === 'string' ? values.config : defaultConfigPath();
  let config;
  try {
    config = await loadConfig(file, overridesFrom(values));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger({ level: config.log.level, secrets: secretValues(config) });
  const gw = await buildGateway({ config, logger });
  gw.start();
  logger.info({ base: config.mqtt.base_topic, broker: config.mqtt.url, device: config.device.port }, 'kkt-gateway started');
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: string): void => {
      if (stopping) {
        logger.warn({ sig }, 'second signal: exiting at once (the next start reconciles the register)');
        process.exit(1);
      }
      stopping = true;
      logger.info({ sig }, 'stopping: finishing the job on the wire');
      gw.stop().then(() => gw.store.close()).then(resolve, (err) => {
        logger.error({ err }, 'stop failed');
        resolve();
      });
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  return 0;
}

async function ports(): Promise<number> {
  const list = await listCandidates();
  if (list.length === 0) {
    process.stdout.write('no serial ports found\n');
    return 0;
  }
  for (const c of list) {
    const id = c.vendorId ? `${c.vendorId}:${c.productId ?? '????'}` : '-';
    process.stdout.write(`${preferredPath(c)}\n    device ${c.path}  usb ${id}  ${c.family ? `${c.family}: ${c.note}` : 'unknown device'}${c.manufacturer ? `  (${c.manufacturer})` : ''}\n`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let values: Record<string, string | boolean | undefined>;
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
    case 'ports':
      return ports();
    case 'demo':
      return (await import('./cli/demo.ts')).demo({ once: values.once === true });
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
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  },
);
