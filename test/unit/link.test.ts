/** DeviceLink: a stop while the register is being opened must close the port that open made (it kept the process alive). */
import t from 'tap';
import { DeviceLink } from '../../src/device/link.ts';
import { createLogger } from '../../src/log.ts';
import type { FiscalDriver } from '../../drivers/types.ts';

t.test('close() during open: waits for it, closes its driver, and no driver is handed out after', async (t) => {
  let release!: () => void;
  const opened = new Promise<void>((r) => (release = r));
  let closed = 0;
  const driver = {
    open: async () => {
      await opened;
      return { protocol: 'shtrih', model: 'X', modelCode: 1, serial: '1', inn: '', fnNumber: '', firmware: '' };
    },
    close: async () => {
      closed++;
    },
  } as unknown as FiscalDriver;
  const link = new DeviceLink(async () => driver, createLogger({ level: 'silent' }));
  const getting = link.get();
  const closing = link.close();
  release();
  await closing;
  await t.rejects(getting, { code: 'STOPPING' }, 'the open in progress fails');
  t.equal(closed, 1, 'its port is closed');
  t.equal(link.state.up, false);
  await t.rejects(link.get(), { code: 'STOPPING' }, 'nothing opens after close');
  t.equal(closed, 1);
});
