/** data_dir defaults to systemd's $STATE_DIRECTORY; the file and the flag still win. */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.ts';

t.test('data_dir from $STATE_DIRECTORY unless set in the file or by --data-dir', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-cfg-'));
  const bare = join(dir, 'bare.json');
  writeFileSync(bare, JSON.stringify({ gateway_id: 'pi', device: { port: '/dev/ttyACM0' } }));
  const env = { STATE_DIRECTORY: '/var/lib/kkt-gateway:/var/lib/other' };
  t.equal((await loadConfig(bare, {}, 'pi', env)).data_dir, '/var/lib/kkt-gateway');
  t.equal((await loadConfig(bare, {}, 'pi', {})).data_dir, './data', 'default without systemd');
  t.equal((await loadConfig(bare, { dataDir: '/srv/q' }, 'pi', env)).data_dir, '/srv/q', 'flag wins');
  const set = join(dir, 'set.json');
  writeFileSync(set, JSON.stringify({ gateway_id: 'pi', data_dir: '/data/kkt', device: { port: '/dev/ttyACM0' } }));
  t.equal((await loadConfig(set, {}, 'pi', env)).data_dir, '/data/kkt', 'file wins');
});
