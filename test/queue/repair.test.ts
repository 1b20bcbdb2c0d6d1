import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore } from '../../src/queue/store.ts';
import { explainOpenError, levelCode, repairDb } from '../../src/queue/repair.ts';

t.test('a locked database is explained; a damaged one is repaired after a copy is put aside', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'kkt-repair-')), 'queue');
  const store = await QueueStore.open(dir);
  for (let i = 0; i < 20; i++) await store.accept({ kind: 'receipt', externalId: `r-${i}`, body: `{"n":${i}}` });

  const locked = await QueueStore.open(dir).catch((e: unknown) => e);
  t.equal(levelCode(locked), 'LEVEL_LOCKED');
  t.match(explainOpenError(locked, dir), /locked by another process/);
  await store.close();

  // damage the MANIFEST's pointer: LevelDB refuses to open
  writeFileSync(join(dir, 'CURRENT'), 'MANIFEST-999999\n');
  const damaged = await QueueStore.open(dir).catch((e: unknown) => e);
  t.ok(damaged instanceof Error, 'refuses to open');
  t.match(explainOpenError(damaged, dir), /repair-db|cannot be opened/);

  const backup = await repairDb(dir);
  t.equal(readFileSync(join(backup, 'CURRENT'), 'utf8'), 'MANIFEST-999999\n', 'the damaged original is kept aside as it was');
  t.ok(readdirSync(backup).some((f) => f.endsWith('.log') || f.endsWith('.ldb')), 'with its data files');
  const repaired = await QueueStore.open(dir);
  t.teardown(() => repaired.close());
  t.equal((await repaired.getRecord('r-7'))?.externalId, 'r-7', 'receipts are back after the repair');
});

t.test('the gateway refuses to start on a locked database with a clear message, and repair-db fixes a damaged one', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const root = mkdtempSync(join(tmpdir(), 'kkt-repair-cli-'));
  const cfg = join(root, 'config.json');
  writeFileSync(cfg, JSON.stringify({ data_dir: join(root, 'data'), device: { port: '/dev/null-register' }, mqtt: { url: 'mqtt://127.0.0.1:1' } }));
  const holder = await QueueStore.open(join(root, 'data', 'queue'));
  const bin = join(import.meta.dirname, '../../bin/kkt-gateway.js');
  const locked = spawnSync(process.execPath, [bin, 'run', '--config', cfg], { encoding: 'utf8', timeout: 30_000 });
  t.equal(locked.status, 74, 'exit code EX_IOERR');
  t.match(locked.stderr, /locked by another process/);
  await holder.close();

  writeFileSync(join(root, 'data', 'queue', 'CURRENT'), 'MANIFEST-999999\n');
  const repaired = spawnSync(process.execPath, [bin, 'repair-db', '--config', cfg], { encoding: 'utf8', timeout: 30_000 });
  t.equal(repaired.status, 0, repaired.stderr);
  t.match(repaired.stdout, /copied to .*queue\.damaged-/);
  const reopened = await QueueStore.open(join(root, 'data', 'queue'));
  await reopened.close();
});
