/**
 * `kkt-gateway ports` output: one block per candidate, the path to configure first, tagged with what it is.
 * The tag is the first word of the line so scripts can pick registers (scripts/install.sh greps `^\[register\]`):
 *   [register]     a supported register (Shtrih-M family) — configure this path
 *   [register]     also any port on which a register answered when asked (`identify`)
 *   [unsupported]  a bootloader, or a known register that did not answer when asked
 *   [other]        a serial port that is not a known register
 */
import { formatIdentified, type Identified } from './identify.ts';
import { preferredPath, type PortCandidate } from './ports.ts';

export type CandidateKind = 'register' | 'unsupported' | 'other';

export function kindOf(c: PortCandidate, answer?: Identified): CandidateKind {
  if (answer?.info) return 'register';
  if (/bootloader/i.test(c.note ?? '')) return 'unsupported';
  if (!c.family) return 'other';
  return answer ? 'unsupported' : 'register';
}

/** `answers`: what each port said when asked, by its path (absent: not asked, `--no-probe`) */
export function formatCandidates(list: PortCandidate[], answers?: Map<string, Identified>): string {
  if (list.length === 0) return 'no serial ports found (is the register on and its USB cable plugged in?)\n';
  const lines: string[] = [];
  const width = Math.max(...list.map((c) => preferredPath(c).length));
  for (const c of list) {
    const answer = answers?.get(c.path);
    const kind = kindOf(c, answer);
    const what = kind === 'other' ? 'not a known register' : c.note ?? c.family ?? '';
    lines.push(`${`[${kind}]`.padEnd(13)} ${preferredPath(c).padEnd(width)}  ${what}`);
    const details = [
      `device ${c.path}`,
      c.vendorId ? `usb ${c.vendorId}:${c.productId ?? '????'}` : 'no usb id',
      ...(c.manufacturer ? [c.manufacturer] : []),
      ...(c.serialNumber ? [`serial ${c.serialNumber}`] : []),
      ...(c.byId ? [] : kind === 'register' ? ['no /dev/serial/by-id link: this path may change on replug'] : []),
    ];
    lines.push(`${' '.repeat(14)}${details.join(', ')}`);
    if (answer) lines.push(`${' '.repeat(14)}${formatIdentified(answer)}`);
  }
  const regs = list.filter((c) => kindOf(c, answers?.get(c.path)) === 'register');
  lines.push('');
  lines.push(
    regs.length === 1
      ? `one register found: set "device": { "port": "${preferredPath(regs[0]!)}" } in config.json`
      : regs.length === 0
        ? 'no supported register found'
        : `${regs.length} registers found: put the path of the one this gateway serves in config.json "device.port"`,
  );
  return lines.join('\n') + '\n';
}
