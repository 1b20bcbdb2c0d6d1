/**
 * The one list of the external tools (Debian packages) this project uses, with what needs each; read by the test
 * pre-check (scripts/check-tools.mjs), the set-up (scripts/setup.mjs, .ci/run) and the commands that spawn a tool
 * (a missing one is a MissingToolError: one line naming the tool, what needs it and the install command).
 *
 * Plain JavaScript without dependencies: it runs before `npm ci` and on a Node.js too old for the rest.
 * The gateway and the demo need none of these; only the test suite, `kkt-emulator --pty` and the service install do.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * @typedef {object} Tool
 * @property {string} name what is looked for: a command on PATH, or a file when `file` is set
 * @property {string} apt the Debian package that provides it
 * @property {string} neededBy what needs it
 * @property {string} [file] an absolute path that must exist (instead of a command on PATH)
 * @property {string} [env] an environment variable that may name the file instead
 */

/** @type {readonly Tool[]} */
export const TOOLS = Object.freeze([
  { name: 'socat', apt: 'socat', neededBy: 'kkt-emulator --pty and the serial-link tests (the emulator on a pseudo-terminal)' },
  { name: 'mosquitto', apt: 'mosquitto', neededBy: 'the tests against a real MQTT broker (TLS, passwords, broker restarts)' },
  { name: 'mosquitto_sub', apt: 'mosquitto-clients', neededBy: 'test/client/cli-flow.test.ts (the README\'s mosquitto_pub / mosquitto_sub flow)' },
  { name: 'openssl', apt: 'openssl', neededBy: 'the TLS tests (they make their own certificates)' },
  { name: 'promtool', apt: 'prometheus', neededBy: 'test/fleet/deploy-docs.test.ts (checks and unit-tests docs/fleet/alerts.yml)' },
  { name: 'udevadm', apt: 'udev', neededBy: 'scripts/install.sh (it reloads the udev rule for the register)' },
  { name: 'systemd-analyze', apt: 'systemd', neededBy: 'the packaging tests (systemd-analyze verify of the unit)' },
  { name: 'shellcheck', apt: 'shellcheck', neededBy: 'the packaging tests (shellcheck of scripts/*.sh)' },
  { name: 'make', apt: 'make', neededBy: 'node-gyp, building unix-dgram (sd_notify for the systemd service and its tests)' },
  { name: 'g++', apt: 'g++', neededBy: 'node-gyp, building unix-dgram (sd_notify for the systemd service and its tests)' },
  { name: 'python3', apt: 'python3', neededBy: 'node-gyp, building unix-dgram (sd_notify for the systemd service and its tests)' },
  { name: 'chromium', apt: 'chromium', file: '/usr/bin/chromium', env: 'CHROMIUM_PATH', neededBy: 'the web page end-to-end tests (playwright-core drives it)' },
  { name: 'fonts-dejavu-core', apt: 'fonts-dejavu-core', file: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', neededBy: 'the web page end-to-end tests (Cyrillic text in Chromium)' },
]);

/** @param {string} name @returns {Tool} */
export function tool(name) {
  const t = TOOLS.find((x) => x.name === name);
  if (!t) throw new RangeError(`unknown tool ${name}`);
  return t;
}

/** A command on PATH: its full path, or undefined. @param {string} cmd @param {NodeJS.ProcessEnv} [env] */
export function which(cmd, env = process.env) {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** @param {Tool} t @param {NodeJS.ProcessEnv} [env] */
export function present(t, env = process.env) {
  if (t.file) return existsSync((t.env && env[t.env]) || t.file);
  return which(t.name, env) !== undefined;
}

/** The tools missing on this machine. @param {NodeJS.ProcessEnv} [env] @param {readonly Tool[]} [tools] */
export function missingTools(env = process.env, tools = TOOLS) {
  return tools.filter((t) => !present(t, env));
}

/** root installs with apt-get directly; anyone else through sudo */
const asRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** The one command that installs these packages. @param {readonly string[]} packages */
export function installCommand(packages, root = asRoot()) {
  const unique = [...new Set(packages)];
  return `${root ? '' : 'sudo '}apt-get install -y ${unique.join(' ')}`;
}

/**
 * A needed external tool is not installed. The message is one line: the tool, what needs it, the install command.
 * `code` is 'MISSING_TOOL' (the CLIs print the message alone, never a stack trace).
 */
export class MissingToolError extends Error {
  /** @param {string} name @param {string} [neededBy] what needs it here (default: the list's) */
  constructor(name, neededBy) {
    const t = tool(name);
    super(`${t.name} is not installed; ${neededBy ?? t.neededBy} needs it. Install it: ${installCommand([t.apt])}`);
    this.name = 'MissingToolError';
    this.code = 'MISSING_TOOL';
    this.tool = t.name;
    this.apt = t.apt;
  }
}

/** The `engines.node` range of package.json: ">=X.Y[.Z]" only. @returns {number[] | undefined} */
function minimumNode() {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const m = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(String(pkg.engines?.node ?? '').trim());
    return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * undefined when this Node.js satisfies package.json's engines field; else the one line that says so.
 * @param {string} who the command that checks
 * @param {string} [version] default: this process's
 */
export function nodeTooOld(who, version = process.versions.node) {
  const min = minimumNode();
  if (!min) return undefined;
  const have = version.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > (min[i] ?? 0)) return undefined;
    if ((have[i] ?? 0) < (min[i] ?? 0)) {
      const need = min.join('.');
      return `${who}: Node.js ${version} is too old; kkt-gateway needs Node.js ${need} or newer (package.json "engines"). Install it: ${asRoot() ? '' : 'sudo '}apt-get install -y nodejs (Debian 13; on older releases Node.js 22 from NodeSource: setup_22.x)`;
    }
  }
  return undefined;
}
