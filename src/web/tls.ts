/**
 * The page's TLS: at first start a self-signed certificate for the host's names and addresses (RSA 2048, ten years,
 * SHA-256) is made and kept in the data directory (web-tls.key mode 0600, web-tls.crt); an installer may give their
 * own (`web.tls_cert`, `web.tls_key`). The certificate's SHA-256 fingerprint is printed on the setup slip so the
 * installer can compare it with what the browser shows. Plain HTTP on the configured port answers with a redirect
 * to the HTTPS port.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type forgeType from 'node-forge';
import { writeFileAtomic } from '../config/index.ts';

export interface PageTls {
  cert: string;
  key: string;
  /** "AB:CD:…" (SHA-256 of the DER certificate), as browsers show it */
  fingerprint: string;
  /** where the certificate came from */
  source: 'generated' | 'configured';
  certFile: string;
}

/** the host's names and addresses (what a browser on the shop's network may type) */
export function hostNames(): { dns: string[]; ips: string[] } {
  const host = os.hostname();
  const dns = [...new Set([host, `${host}.local`, 'localhost'].filter(Boolean))];
  const ips = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) ips.add(a.address.split('%')[0]!);
  return { dns, ips: [...ips] };
}

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/**
 * a self-signed certificate for these names and addresses. node-forge (about 10 MB once loaded) is loaded only here:
 * a gateway makes its certificate at its first start and reads it from the data directory afterwards.
 */
export async function makeSelfSigned(names = hostNames(), now = new Date()): Promise<{ cert: string; key: string }> {
  const forge: typeof forgeType = (await import('node-forge')).default;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  // a positive random serial
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(now.getTime() - 24 * 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600_000);
  const attrs = [{ name: 'commonName', value: names.dns[0] ?? 'kkt-gateway' }, { name: 'organizationName', value: 'kkt-gateway (self-signed)' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...names.dns.map((value) => ({ type: 2, value })), ...names.ips.map((ip) => ({ type: 7, ip }))] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}

/** the configured certificate and key, or the data directory's (made at the first start) */
export async function pageTls(dataDir: string, configured?: { cert?: string; key?: string }): Promise<PageTls> {
  if (configured?.cert && configured.key) {
    const cert = await fs.readFile(configured.cert, 'utf8');
    const key = await fs.readFile(configured.key, 'utf8');
    return { cert, key, fingerprint: fingerprintOf(cert), source: 'configured', certFile: path.resolve(configured.cert) };
  }
  const certFile = path.join(path.resolve(dataDir), 'web-tls.crt');
  const keyFile = path.join(path.resolve(dataDir), 'web-tls.key');
  try {
    const [cert, key] = await Promise.all([fs.readFile(certFile, 'utf8'), fs.readFile(keyFile, 'utf8')]);
    return { cert, key, fingerprint: fingerprintOf(cert), source: 'generated', certFile };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const made = await makeSelfSigned();
  await fs.mkdir(path.dirname(keyFile), { recursive: true });
  await writeFileAtomic(keyFile, made.key, 0o600);
  await writeFileAtomic(certFile, made.cert, 0o644);
  return { ...made, fingerprint: fingerprintOf(made.cert), source: 'generated', certFile };
}

/** plain HTTP: every request is sent to the same host's HTTPS port (308 keeps the method) */
export function redirectServer(httpsPort: number): http.Server {
  return http.createServer((req, res) => {
    const host = (req.headers.host ?? 'localhost').replace(/:\d+$/, '').replace(/[^A-Za-z0-9.\-[\]:]/g, '');
    const target = `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${req.url?.startsWith('/') ? req.url : '/'}`;
    res.writeHead(308, { location: target, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`HTTPS: ${target}\n`);
  });
}
