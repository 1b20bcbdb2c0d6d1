/** The error catalogue in the docs stays in sync with src/fiscal/codes.ts. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { FISCAL_CODES } from '../../src/fiscal/codes.ts';

t.test('docs/fiscal.md and the README list every validation code, with its texts', async (t) => {
  const docs = readFileSync(new URL('../../docs/fiscal.md', import.meta.url), 'utf8');
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const [code, [ru, en]] of Object.entries(FISCAL_CODES)) {
    t.ok(docs.includes(`| \`${code}\` | ${en} | ${ru} |`), `${code} in docs/fiscal.md`);
    t.ok(readme.includes(`\`${code}\``), `${code} in the README`);
  }
  const documented = [...docs.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  t.same(documented.filter((c) => !(c! in FISCAL_CODES)), [], 'no stale code in the table');
});
