/**
 * When the queue's LevelDB will not open: say clearly why and what to do, and a repair that never discards fiscal
 * data silently — the damaged database is copied aside first, then LevelDB's own repair runs on the original.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Level } from 'level';

/** the LevelDB error code behind a (wrapped) open failure */
export function levelCode(err: unknown): string | undefined {
  for (let e: any = err; e; e = e.cause) {
    if (typeof e.code === 'string' && e.code.startsWith('LEVEL_') && e.code !== 'LEVEL_DATABASE_NOT_OPEN') return e.code;
    if (/corrupt/i.test(String(e.message))) return 'LEVEL_CORRUPTION';
  }
  return undefined;
}

/** a message for the person on call: what happened, and the command that fixes it */
export function explainOpenError(err: unknown, dir: string): string {
  const code = levelCode(err);
  if (code === 'LEVEL_LOCKED') {
    return `the receipt database ${dir} is locked by another process — is another kkt-gateway running? ` +
      '(systemctl status kkt-gateway; stop the other one, then start again)';
  }
  if (code === 'LEVEL_CORRUPTION') {
    return `the receipt database ${dir} is damaged. Nothing has been changed. Run \`kkt-gateway repair-db --data-dir ${path.dirname(dir)}\`: ` +
      'it copies the database aside first (queue.damaged-<time>), then repairs it; receipts it cannot recover are listed in the log';
  }
  return `the receipt database ${dir} cannot be opened (${(err as Error)?.message ?? String(err)}); check the disk (df -h, dmesg) and permissions`;
}

/** Copies `dir` to `<dir>.damaged-<time>`, then runs LevelDB's repair on `dir`. Returns the backup's path. */
export async function repairDb(dir: string, now = new Date()): Promise<string> {
  const backup = `${dir}.damaged-${now.toISOString().replace(/[:.]/g, '-')}`;
  await fs.cp(dir, backup, { recursive: true, errorOnExist: true, force: false });
  // classic-level's static repair (the typings of `level` do not list it)
  await (Level as unknown as { repair(location: string): Promise<void> }).repair(dir);
  return backup;
}
