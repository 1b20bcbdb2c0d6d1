/** Shared by the client tests: receipts with distinct totals, and the emulator's FN journal checked against results. */
import { join } from 'node:path';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { crashReceipt } from '../../scripts/chaos/crash.ts';
import type { Rig } from '../helpers/rig.ts';
import type { FinalResult } from '../../src/client/index.ts';

/** receipt i of a run: its delivery line makes its total unique (kopecks 398 900 + i) */
export const receipt = (id: string, i: number): Record<string, unknown> => crashReceipt(id, i);
export const totalOf = (i: number): number => 199000 + 169900 + 30000 + i;

/**
 * Every id printed exactly once: one FN receipt document per submit, none extra, each result's FD number naming the
 * journal document with that receipt's total. Returns the problems (empty when all is well).
 */
export function printedOnce(rig: Rig, submitted: ReadonlyArray<{ id: string; i: number; result: FinalResult | undefined }>): string[] {
  const docs = readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3);
  const problems: string[] = [];
  if (docs.length !== submitted.length) problems.push(`${docs.length} receipt documents in the FN for ${submitted.length} submits`);
  for (const s of submitted) {
    const matching = docs.filter((d) => d.total === totalOf(s.i));
    if (matching.length !== 1) problems.push(`${s.id}: ${matching.length} FN documents with its total`);
    if (s.result?.status !== 'done') problems.push(`${s.id}: ${s.result?.status ?? 'no result'}`);
    else if (matching[0] && s.result.payload?.fiscal_document_number !== matching[0].fd) {
      problems.push(`${s.id}: result FD ${s.result.payload?.fiscal_document_number}, FN document FD ${matching[0].fd}`);
    }
  }
  return problems;
}
