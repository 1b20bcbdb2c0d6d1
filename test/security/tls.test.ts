import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { makeCerts } from '../helpers/certs.ts';
import { startMosquitto, freePort } from '../helpers/broker.ts';
import { makeRig } from '../helpers/rig.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';

t.test('TLS with server verification, client certificates and a password, against mosquitto', async (t) => {
  const certs = makeCerts();
  const tlsPort = await freePort();
  const pwfile = join(certs.dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', pwfile, 'kkt', 'gateway-secret-pw']);
  const broker = await startMosquitto({
    extraConfig: [
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${certs.ca}`,
      `certfile ${certs.serverCert}`,
      `keyfile ${certs.serverKey}`,
      'require_certificate true',
      'use_identity_as_username false',
      `password_file ${pwfile}`,
      'allow_anonymous false',
    ].join('\n'),
    perListenerSettings: true,
  });
  t.teardown(() => broker.stop());
  const url = `mqtts://127.0.0.1:${tlsPort}`;

  // the broker refuses a client certificate of another CA, and a wrong password
  const refused = async (opts: mqtt.IClientOptions): Promise<boolean> => {
    const c = mqtt.connect(url, { ...opts, reconnectPeriod: 0, connectTimeout: 3000 });
    const ok = await new Promise<boolean>((resolve) => {
      c.once('connect', () => resolve(false));
      c.once('error', () => resolve(true));
      c.once('close', () => resolve(true));
    });
    c.end(true);
    return ok;
  };
  const base = { ca: readFileSync(certs.ca), username: 'kkt', password: 'gateway-secret-pw' };
  t.ok(await refused({ ...base, cert: readFileSync(certs.rogueCert), key: readFileSync(certs.rogueKey) }), 'rogue client certificate refused');
  t.ok(await refused({ ...base, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), password: 'wrong' }), 'wrong password refused');
  t.ok(await refused({ username: 'kkt', password: 'gateway-secret-pw', cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), ca: readFileSync(certs.rogueCert) }), 'a broker the CA does not vouch for is refused by the client');

  // the gateway over TLS; the store talks to the plain listener of the same broker
  const rig = await makeRig({
    externalBroker: broker,
    config: { mqtt: { url, ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, username: 'kkt', password: 'gateway-secret-pw' } },
  });
  t.teardown(() => rig.close());
  await rig.startGateway();
  await rig.store.publish('receipt', sampleReceipt('tls-1'));
  await rig.store.until(() => rig.store.final('tls-1') !== undefined, 'result over TLS');
  t.equal(rig.store.final('tls-1')?.status, 'done');
  t.equal(readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3).length, 1);
});
