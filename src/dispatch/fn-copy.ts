/**
 * Is a document in the FN the in-flight receipt? After an uncertain close the FN decides; a document of the right
 * type and total is not enough (another receipt of the same sum may have taken that number — printed on the
 * keyboard, or by a second host), so its copy from the FN is compared with the job field by field: operation, total,
 * each payment kind, and each item's name, price, quantity and sum. Money and quantities are integers on both sides.
 */
import type { FiscalReceipt, FnDocumentCopy, Payments } from '../../drivers/types.ts';

const KINDS: Array<keyof Payments> = ['cash', 'electronic', 'prepaid', 'credit', 'other'];

/** Names are compared as the FN keeps them: trimmed; a register may cut a long name to its field (128 characters). */
const sameName = (fn: string, job: string): boolean => {
  const a = fn.trim();
  const b = job.trim();
  return a === b || (a.length >= 64 && b.startsWith(a));
};

/** The differences between the FN's copy and the job; empty when the copy is the job's receipt. */
export function copyDifferences(copy: FnDocumentCopy, receipt: FiscalReceipt): string[] {
  const out: string[] = [];
  const wantType = receipt.correction ? 31 : 3;
  if (copy.type !== wantType) out.push(`type ${copy.type} ≠ ${wantType}`);
  if (copy.operation !== undefined && copy.operation !== receipt.operation) out.push(`operation ${copy.operation} ≠ ${receipt.operation}`);
  if (copy.total !== undefined && copy.total !== receipt.total) out.push(`total ${copy.total} ≠ ${receipt.total}`);
  if (copy.payments) {
    for (const k of KINDS) if (copy.payments[k] !== receipt.payments[k]) out.push(`payment ${k} ${copy.payments[k]} ≠ ${receipt.payments[k]}`);
  }
  if (copy.items) {
    if (copy.items.length !== receipt.items.length) out.push(`items ${copy.items.length} ≠ ${receipt.items.length}`);
    else {
      copy.items.forEach((it, i) => {
        const j = receipt.items[i]!;
        if (!sameName(it.name, j.name)) out.push(`item ${i + 1} name «${it.name}» ≠ «${j.name}»`);
        if (it.price !== j.price) out.push(`item ${i + 1} price ${it.price} ≠ ${j.price}`);
        if (it.quantity !== j.quantity) out.push(`item ${i + 1} quantity ${it.quantity} ≠ ${j.quantity}`);
        if (it.sum !== j.sum) out.push(`item ${i + 1} sum ${it.sum} ≠ ${j.sum}`);
      });
    }
  }
  return out;
}

/** A copy that says nothing comparable (no total, no items) cannot prove a match. */
export function copyIsComparable(copy: FnDocumentCopy): boolean {
  return copy.total !== undefined && copy.items !== undefined;
}
