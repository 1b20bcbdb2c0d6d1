/**
 * README "The same flow from any language": the real mosquitto_pub / mosquitto_sub binaries against mosquitto, the
 * gateway and the emulator, with the README's own receipt file: publish, result, request/result, NOT_FOUND, the same
 * file again (a duplicate, not a print). And the README's JavaScript example, run as written (broker and gateway id
 * replaced) from a plain .mjs file.
 */
import t from 'tap';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeRig } from '../helpers/rig.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

t.test('the README mosquitto_pub/mosquitto_sub flow', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### The same flow from any language'));
  const body = /<<'JSON'\n(.*)\nJSON\n/.exec(section)?.[1];
  t.ok(body, 'the receipt file is in the README');
  const id = (JSON.parse(body!) as { external_id: string }).external_id;

  const rig = await makeRig({ broker: 'mosquitto' });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const port = String(rig.broker.port);
  const B = ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv5'];

  const lines: Array<{ topic: string; body: any }> = [];
  const sub = spawn('mosquitto_sub', [...B, '-i', `store-cli-${process.pid}`, '-c', '-x', '604800', '-q', '1', '-v', '-t', 'kkt/+/result', '-t', 'kkt/+/response/+'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void sub.kill());
  let buf = '';
  sub.stdout.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const sp = line.indexOf(' ');
      lines.push({ topic: line.slice(0, sp), body: JSON.parse(line.slice(sp + 1)) });
    }
  });
  const until = async (pred: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const results = (): any[] => lines.filter((l) => l.topic === 'kkt/test/result' && l.body.external_id === id).map((l) => l.body);
  // mosquitto_sub is subscribed once a probe it sees comes back
  await until(() => {
    run('mosquitto_pub', [...B, '-q', '1', '-t', 'kkt/test/response/probe', '-m', '{"transaction":"probe"}']).catch(() => undefined);
    return lines.some((l) => l.topic === 'kkt/test/response/probe');
  }, 'mosquitto_sub subscribed').catch((err: Error) => t.fail(err.message));

  const file = join(rig.dir, 'order-1017-1.json');
  writeFileSync(file, `${body}\n`);
  await run('mosquitto_pub', [...B, '-q', '1', '-t', 'kkt/test/receipt', '-f', file]);
  await until(() => results().some((r) => r.status === 'done'), 'done');
  t.same(results().map((r) => r.status), ['accepted', 'done'], 'accepted, then done');
  const done = results().find((r) => r.status === 'done');
  t.ok(done.payload.fiscal_document_number > 0 && typeof done.payload.qr === 'string', 'FD and QR in the payload');

  await run('mosquitto_pub', [...B, '-q', '1', '-t', 'kkt/test/request/result', '-m', JSON.stringify({ transaction: 'ask-1', external_id: id })]);
  await until(() => results().length === 3 && lines.some((l) => l.topic === 'kkt/test/response/result' && l.body.transaction === 'ask-1'), 'request/result answered');
  t.same(results()[2], done, 'request/result re-published the stored result');

  await run('mosquitto_pub', [...B, '-q', '1', '-t', 'kkt/test/request/result', '-m', JSON.stringify({ transaction: 'ask-2', external_id: 'never-sent' })]);
  await until(() => lines.some((l) => l.topic === 'kkt/test/response/result' && l.body.transaction === 'ask-2'), 'NOT_FOUND answered');
  t.equal(lines.find((l) => l.body.transaction === 'ask-2')!.body.error.code, 'NOT_FOUND', 'an unknown id: NOT_FOUND');

  // the same file again: a duplicate, answered with the stored result
  await run('mosquitto_pub', [...B, '-q', '1', '-t', 'kkt/test/receipt', '-f', file]);
  await until(() => results().length === 4, 'the duplicate answered');
  t.same(results()[3], done, 'the same bytes again: the stored result');

  await run('mosquitto_pub', [...B, '-q', '1', '-t', 'kkt/test/request/status', '-m', '{"transaction":"s-1"}']);
  await until(() => lines.some((l) => l.topic === 'kkt/test/response/status' && l.body.transaction === 's-1'), 'status answered');
  t.equal(lines.find((l) => l.body.transaction === 's-1')!.body.status, 'ok', 'status');

  t.equal(readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3).length, 1, 'printed once');
});

t.test('the README JavaScript example runs as written against a real gateway', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Store client library'));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  t.ok(code, 'the example is in the README');
  const rig = await makeRig({ broker: 'mosquitto' });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const file = join(root, 'test/client/fixtures', `.readme-example-${process.pid}.mjs`);
  t.teardown(() => rmSync(file, { force: true }));
  writeFileSync(
    file,
    code!
      .replace("'mqtt://broker.example.ru:1883'", JSON.stringify(rig.broker.url))
      .replaceAll("'shop41'", "'test'")
      .replace("username: 'store', password: process.env.MQTT_PASSWORD,", '') +
      "\nconsole.log('status', status.status, 'zreports', z.status);\n",
  );
  const out = await run(process.execPath, ['--import=tsx', file], { cwd: root, env: { ...process.env } });
  t.match(out.stdout, /on the gateway's disk\nprinted: FD \d+, FP \d+, QR t=/, 'accepted, then printed');
  t.match(out.stdout, /status ok zreports ok/, 'commands answered');
  t.equal(out.stderr, '', 'nothing on stderr');
  t.equal(readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3).length, 1, 'printed once');
});
