/**
 * The page over HTTPS from the real process (`node bin/kkt-gateway.js run` on the rig: emulator on a pty, aedes over
 * TCP): the certificate made at the first start (key 0600, the same one after a restart), plain HTTP redirected, the
 * setup slip on the emulator's tape with the certificate's fingerprint, Secure cookies, and `reset-password`.
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { makeRig } from '../helpers/rig.ts';
import { freePorts } from '../helpers/broker.ts';
import { ROOT, startGatewayProcess } from '../helpers/gateway-process.ts';
import { call, setupCodeIn, waitFor } from '../helpers/web-client.ts';
import { parseConfig } from '../../src/config/index.ts';

t.setTimeout(120_000);

t.test('HTTPS by default with a generated certificate; HTTP redirects; the slip carries the fingerprint; reset-password', async (t) => {
  const rig = await makeRig();
  t.teardown(() => rig.close());
  const [port, httpsPort] = (await freePorts(2)) as [number, number];
  const config = parseConfig({ ...rig.config, log: { level: 'info' }, web: { host: '127.0.0.1', port, https_port: httpsPort } });
  let gp = startGatewayProcess(config, rig.dir);
  t.teardown(() => gp.child.kill('SIGKILL'));
  const base = `https://127.0.0.1:${httpsPort}`;
  const first = await waitFor(async () => call(`${base}/api/session`).catch(() => undefined), 'the HTTPS page up', 30_000);
  t.equal(first.status, 200);
  t.match(JSON.parse(first.body), { setup_required: true });

  const crt = await fs.readFile(join(config.data_dir, 'web-tls.crt'), 'utf8');
  const cert = new X509Certificate(crt);
  t.equal(first.fingerprint, cert.fingerprint256, 'the page serves the certificate kept in the data directory');
  t.match(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/, 'for the host\'s addresses');
  t.match(cert.subjectAltName ?? '', /DNS:localhost/, 'and names');
  t.equal(((await fs.stat(join(config.data_dir, 'web-tls.key'))).mode & 0o777).toString(8), '600', 'the key is private');

  // the redirect listens right after the page
  const plain = await waitFor(async () => call(`http://127.0.0.1:${port}/journal?x=1`).catch(() => undefined), 'the plain HTTP redirect up', 10_000);
  t.equal(plain.status, 308, 'plain HTTP answers with a redirect');
  t.equal(plain.headers.location, `https://127.0.0.1:${httpsPort}/journal?x=1`);
  t.notMatch(plain.body, /kkt-gateway<\/title>/, 'and not with the page');

  // the claim over HTTPS: the code on the emulator's tape with the fingerprint, and in the log
  const asked = await call(`${base}/api/setup/code`, 'POST', {});
  t.equal(asked.status, 200, asked.body);
  t.equal(JSON.parse(asked.body).fingerprint, cert.fingerprint256);
  const code = await waitFor(async () => setupCodeIn(gp.output().split('\n')), 'the code in the log');
  const tape = await waitFor(async () => {
    const text = await fs.readFile(join(rig.dir, 'tape.txt'), 'utf8').catch(() => '');
    // the whole slip: its last line comes after the code
    return text.includes(code) && /НЕ ФИСКАЛЬНЫЙ/.test(text.slice(text.indexOf(code))) ? text : undefined;
  }, 'the slip printed');
  t.ok(tape.replace(/\n/g, '').includes(cert.fingerprint256), 'the slip carries the certificate\'s SHA-256 fingerprint');
  const claimed = await call(`${base}/api/setup`, 'POST', { code, password: 'correct horse battery' });
  t.equal(claimed.status, 200, claimed.body);
  const cookies = ([] as string[]).concat(claimed.headers['set-cookie'] ?? []);
  t.ok(cookies.some((c) => /^kkt_session=/.test(c) && /;\s*Secure/i.test(c)), `the session cookie is Secure (${cookies.join(' | ')})`);

  // the same certificate after a restart
  gp.child.kill('SIGTERM');
  t.equal(await gp.exited, 0);
  gp = startGatewayProcess(config, rig.dir);
  const again = await waitFor(async () => call(`${base}/api/session`).catch(() => undefined), 'the page up again', 30_000);
  t.equal(again.fingerprint, cert.fingerprint256, 'kept, not made again');
  t.match(JSON.parse(again.body), { setup_required: false });
  gp.child.kill('SIGTERM');
  await gp.exited;

  // reset-password (root on the Pi): the claim starts again
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'kkt-gateway.js'), 'reset-password', '--data-dir', config.data_dir], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /web-users\.json/);
  gp = startGatewayProcess(config, rig.dir);
  const reset = await waitFor(async () => call(`${base}/api/session`).catch(() => undefined), 'the page after reset', 30_000);
  t.match(JSON.parse(reset.body), { setup_required: true }, 'the page asks for a setup code again');
  gp.child.kill('SIGTERM');
  await gp.exited;
});
