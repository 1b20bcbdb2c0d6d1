/**
 * `fiscal.ofd_link`: a template of the OFD's page for one fiscal document, e.g.
 * `https://ofd.example/rec/{inn}/{rn}/{fn}/{fd}/{fp}`. Placeholders: {inn} the register's INN, {rn} its registration
 * number (tag 1037), {fn} the FN number, {fd} the document number, {fp} the fiscal sign (tag 1077, as printed),
 * {qr} the receipt's QR string (results only). Each value is URL-encoded. No template: no link.
 */
export interface LinkValues {
  inn: string;
  rn: string;
  fn: string;
  fd: number;
  fp: number;
  qr?: string;
}

export const LINK_PLACEHOLDERS = ['inn', 'rn', 'fn', 'fd', 'fp', 'qr'] as const;

export function ofdLink(template: string | undefined, v: LinkValues): string | undefined {
  if (!template) return undefined;
  const values: Record<string, string> = { inn: v.inn, rn: v.rn, fn: v.fn, fd: String(v.fd), fp: String(v.fp), qr: v.qr ?? '' };
  return template.replace(/\{(inn|rn|fn|fd|fp|qr)\}/g, (_m, k: string) => encodeURIComponent(values[k] ?? ''));
}
