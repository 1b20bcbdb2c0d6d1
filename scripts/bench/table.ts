/** The one table the bench prints, and the notes under it. */

export interface Row {
  /** P1 … P7 */
  id: string;
  figure: string;
  /** the measured value, with its unit */
  value: string;
  /** the baseline measured in the same run, with its unit ('–' when the goal is absolute) */
  baseline: string;
  /** measured ÷ baseline */
  ratio: string;
  goal: string;
  /** undefined: not judged (e.g. the figure could not be measured) */
  ok: boolean | undefined;
}

export interface Section {
  rows: Row[];
  /** how it was measured and the figures behind the value, one line each */
  notes: string[];
}

export function formatTable(rows: Row[]): string {
  const head = ['', 'figure', 'measured', 'baseline (same run)', 'ratio', 'goal', ''];
  const body = rows.map((r) => [r.id, r.figure, r.value, r.baseline, r.ratio, r.goal, r.ok === undefined ? '?' : r.ok ? '✓' : '✗']);
  const line = (cells: string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i >= 2 && i <= 4 ? '---:' : '---'))), ...body.map(line)].join('\n');
}

export const fmt = {
  /** n with `digits` significant decimals trimmed to a sensible width */
  num(n: number, digits = 1): string {
    if (!Number.isFinite(n)) return String(n);
    return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  },
  int(n: number): string {
    return Math.round(n).toLocaleString('en-US');
  },
  ratio(n: number): string {
    return Number.isFinite(n) ? `${n.toFixed(2)}×` : '–';
  },
  ms(n: number): string {
    return `${n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toString()} ms`;
  },
  mb(n: number): string {
    return `${n.toFixed(1)} MB`;
  },
  bytes(n: number): string {
    return n >= 10_000 ? `${(n / 1024).toFixed(1)} KiB` : `${Math.round(n)} B`;
  },
};

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  // nearest rank
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
