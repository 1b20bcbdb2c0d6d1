/** The configuration blocks of docs/fleet.md that tests run verbatim (marked `<!-- name: … -->` before the fence). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

/** the fenced block after `<!-- name: … -->` in docs/fleet.md */
export function docBlock(name: string): string {
  const doc = readFileSync(join(ROOT, 'docs', 'fleet.md'), 'utf8');
  const m = new RegExp(`<!-- ${name}:[^>]*-->\\s*\n\`\`\`[a-z]*\n([\\s\\S]*?)\n\`\`\``).exec(doc);
  if (!m) throw new Error(`docs/fleet.md has no block marked ${name}`);
  return m[1]!;
}
