/**
 * A fresh machine (issue 12): the demo needs nothing but Node.js and `npm ci`; a missing tool or a too old Node.js
 * is one line naming it and the install command; `npm test` stops at once with the list when tools are missing;
 * and no command loses output through a pipe when it exits.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import readline from 'node:readline';
import { Journal } from '../../drivers/emulator/journal.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { MissingToolError, TOOLS, installCommand, nodeTooOld, which } from '../../scripts/tools.mjs';

const ROOT = join(import.meta.dirname, '../..');

/**
 * A directory under `base` holding only `node` (a symlink to this Node.js) and the commands asked for, to be the
 * whole PATH. (t.testdir() makes a fresh, empty directory at each call: call it once per test.)
 */
function pathWith(base: string, ...commands: Array<[name: string, target: string]>): string {
  const dir = join(base, 'path');
  mkdirSync(dir, { recursive: true });
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const [name, target] of commands) symlinkSync(target, join(dir, name));
  return dir;
}

const noStackTrace = (s: string): boolean => !/^\s+at /m.test(s);

for (const protocol of ['shtrih', 'atol'] as const) t.test(`the demo (${protocol}) with a PATH that holds only node reaches a done result with a fiscal document number`, async (t) => {
  const base = t.testdir();
  const child = spawn(process.execPath, [join(ROOT, 'bin/kkt-gateway.js'), 'demo', '--once', '--protocol', protocol], {
    cwd: ROOT,
    env: { PATH: pathWith(base), TMPDIR: base },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 0, `exit 0 (stderr: ${stderr})`);
  t.match(stdout, new RegExp(`^register {2}${protocol === 'atol' ? 'ATOL' : 'Shtrih-M'} emulator on tcp://127\\.0\\.0\\.1:\\d+, found by the gateway itself`, 'm'), 'the emulator over TCP, no socat');
  const results = stdout
    .split('\n')
    .filter((l) => l.startsWith('result    '))
    .map((l) => JSON.parse(l.slice(10)) as { status: string; payload: { fiscal_document_number?: number } | null });
  t.same(results.map((r) => r.status), ['accepted', 'done']);
  const fd = results[1]?.payload?.fiscal_document_number;
  t.ok(Number.isInteger(fd) && fd! > 0, `fiscal document number ${fd}`);
  t.ok(noStackTrace(stderr), 'no stack trace');
});

t.test('kkt-emulator --tcp works with nothing installed; --pty without socat is one line naming it', async (t) => {
  const path = pathWith(t.testdir());
  const tcp = spawn(process.execPath, [join(ROOT, 'bin/kkt-emulator.js'), '--tcp', '0'], { cwd: ROOT, env: { PATH: path }, stdio: ['pipe', 'pipe', 'pipe'] });
  const first = String((await readline.createInterface({ input: tcp.stdout })[Symbol.asyncIterator]().next()).value);
  t.match(first, /^TCP 127\.0\.0\.1:\d+$/);
  const socket = net.connect(Number(first.split(':')[1]), '127.0.0.1');
  await once(socket, 'connect');
  socket.write(Buffer.from([0x05]));
  const [answer] = (await once(socket, 'data')) as [Buffer];
  t.same([...answer], [0x15], 'ENQ → NAK: the register is idle');
  socket.destroy();
  tcp.kill('SIGTERM');
  t.equal(((await once(tcp, 'exit')) as [number | null])[0], 0);

  const pty = spawnSync(process.execPath, [join(ROOT, 'bin/kkt-emulator.js'), '--pty'], { cwd: ROOT, env: { PATH: path }, encoding: 'utf8', input: '', timeout: 30_000 });
  t.equal(pty.status, 1);
  t.equal(pty.stdout, '');
  t.equal(pty.stderr.trim().split('\n').length, 1, 'one line');
  t.match(pty.stderr, /^kkt-emulator: socat is not installed; the emulator on a pseudo-terminal \(kkt-emulator --pty\) needs it\. Install it: (sudo )?apt-get install -y socat\n$/);
});

t.test('createPty without socat rejects with a MissingToolError', async (t) => {
  const err = await createPty({ socat: join(t.testdir(), 'no-socat-here') }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof MissingToolError);
  t.match(err, { code: 'MISSING_TOOL', tool: 'socat', apt: 'socat', message: /apt-get install -y socat$/ });
});

t.test('a Node.js older than package.json engines is one line, before tsx is loaded', async (t) => {
  const fake = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"18.19.1"})';
  for (const bin of ['kkt-gateway', 'kkt-emulator']) {
    const r = spawnSync(process.execPath, ['--import', fake, join(ROOT, 'bin', `${bin}.js`), '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 1, bin);
    t.equal(r.stdout, '');
    t.match(r.stderr, new RegExp(`^${bin}: Node\\.js 18\\.19\\.1 is too old; kkt-gateway needs Node\\.js 20\\.19\\.0 or newer \\(package\\.json "engines"\\)\\. Install it: .*apt-get install -y nodejs.*\\n$`));
  }
  t.equal(nodeTooOld('x', '20.19.0'), undefined);
  t.equal(nodeTooOld('x', '22.1.0'), undefined);
  t.match(nodeTooOld('x', '20.18.3'), /Node\.js 20\.18\.3 is too old/);
});

t.test('npm test with a PATH lacking the tools stops at once with the list and the install command', async (t) => {
  const base = t.testdir();
  // the check script alone, with a PATH that holds only node
  const r = spawnSync(process.execPath, ['scripts/check-tools.mjs'], { cwd: ROOT, env: { PATH: pathWith(base), CHROMIUM_PATH: '/nonexistent/chromium' }, encoding: 'utf8', timeout: 30_000 });
  t.equal(r.error, undefined, 'finished well within 30 s');
  t.equal(r.status, 1);
  const fileTools = TOOLS.filter((x) => x.file && x.name !== 'chromium'); // fonts: a file, there or not whatever PATH is
  for (const tool of TOOLS.filter((x) => !fileTools.includes(x))) t.match(r.stderr, new RegExp(`^  ${tool.name.replace('+', '\\+')} .*\\(apt ${tool.apt.replace('+', '\\+')}\\) for `, 'm'), `names ${tool.name}`);
  const line = r.stderr.split('\n').find((l) => l.startsWith('Install them: '));
  t.ok(line, 'one install line');
  for (const apt of ['socat', 'mosquitto', 'udev', 'systemd', 'shellcheck', 'make', 'g++', 'python3', 'chromium']) t.ok(line!.split(' ').includes(apt), `installs ${apt}`);
  t.match(line, /apt-get install -y /);
  t.ok(noStackTrace(r.stderr));

  // and through npm itself: `npm test` runs the check before tsc and tap, and stops there
  const npmCli = process.env.npm_execpath && /\.[cm]?js$/.test(process.env.npm_execpath) ? process.env.npm_execpath : realpathSync(which('npm')!);
  // node and sh only: npm runs scripts through sh
  const home = join(base, 'home');
  mkdirSync(home);
  const npm = spawnSync(process.execPath, [npmCli, 'test'], { cwd: ROOT, env: { PATH: pathWith(join(base, 'npm'), ['sh', '/bin/sh']), HOME: home, CHROMIUM_PATH: '/nonexistent/chromium' }, encoding: 'utf8', timeout: 30_000 });
  t.equal(npm.error, undefined, 'npm test finished well within 30 s');
  t.not(npm.status, 0);
  t.match(npm.stderr, /^ {2}socat .*\(apt socat\)/m);
  t.match(npm.stderr, /^Install them: (sudo )?apt-get install -y socat /m);
  t.notMatch(npm.stdout + npm.stderr, /# Subtest|TAP version/, 'tap never started');
});

t.test('installCommand: sudo unless root, each package once', async (t) => {
  t.equal(installCommand(['socat', 'mosquitto', 'socat'], true), 'apt-get install -y socat mosquitto');
  t.equal(installCommand(['g++'], false), 'sudo apt-get install -y g++');
});

t.test('kkt-emulator --dump of a journal of several hundred receipts through a pipe arrives whole', async (t) => {
  const base = t.testdir();
  const file = join(base, 'fn.jsonl');
  const journal = new Journal({ path: file });
  journal.addFiscal({ type: 2, dateTime: '2026-01-15T10:00:00', shift: 1 });
  const receipts = 600;
  for (let i = 1; i <= receipts; i++) {
    journal.addFiscal({
      type: 3,
      dateTime: '2026-01-15T10:00:00',
      shift: 1,
      receiptNo: i,
      operation: 1,
      total: 39_89,
      items: [{ name: `Товар ${i}`, price: 39_89, quantity: 1_000_000, sum: 39_89, vat: 'vat22', taxByte: 1, paymentMethod: 4, paymentObject: 1, department: 1, tlvs: {} }],
      payments: { cash: 0, electronic: 39_89, prepaid: 0, credit: 0, other: 0 },
      taxSystem: 1,
    });
  }
  journal.close();
  // the reader: a separate process that parses the whole of its stdin as JSON
  const parser = join(base, 'parse.mjs');
  writeFileSync(parser, `let s = ''; process.stdin.setEncoding('utf8'); process.stdin.on('data', (d) => (s += d)); process.stdin.on('end', () => { const j = JSON.parse(s); process.stdout.write(JSON.stringify({ bytes: Buffer.byteLength(s), documents: j.documents.length, last: j.documents.at(-1).receiptNo })); });\n`);
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const r = spawnSync('/bin/sh', ['-c', `${q(process.execPath)} ${q(join(ROOT, 'bin/kkt-emulator.js'))} --journal ${q(file)} --dump | ${q(process.execPath)} ${q(parser)}`], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.stderr, '', 'the JSON parsed');
  t.equal(r.status, 0);
  const got = JSON.parse(r.stdout) as { bytes: number; documents: number; last: number };
  t.ok(got.bytes > 64 * 1024, `the dump is larger than a pipe buffer (${got.bytes} bytes)`);
  t.same({ documents: got.documents, last: got.last }, { documents: receipts + 1, last: receipts });
});
