/** A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** a client certificate from another CA (must be refused) */
  rogueCert: string;
  rogueKey: string;
}

function ossl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

function issue(dir: string, name: string, subject: string, caName: string, ext?: string): void {
  ossl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2'];
  if (ext) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    args.push('-extfile', `${name}.ext`);
  }
  ossl(args, dir);
}

function ca(dir: string, name: string): void {
  ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`], dir);
}

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-certs-'));
  ca(dir, 'ca');
  ca(dir, 'rogue-ca');
  issue(dir, 'server', '/CN=localhost', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  issue(dir, 'client', '/CN=kkt-gateway-test', 'ca');
  issue(dir, 'rogue', '/CN=intruder', 'rogue-ca');
  const p = (f: string): string => join(dir, f);
  return { dir, ca: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), clientCert: p('client.crt'), clientKey: p('client.key'), rogueCert: p('rogue.crt'), rogueKey: p('rogue.key') };
}
