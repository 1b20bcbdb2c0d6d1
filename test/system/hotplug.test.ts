/** USB hot-plug: known registers only, detach drops the link, attach wakes the dispatcher; no USB → no crash. */
import t from 'tap';
import { RegisterHotplug, wireHotplug, nativeUsbBackend, isKnownRegister, type UsbBackend, type UsbDeviceInfo } from '../../src/device/hotplug.ts';
import { createLogger } from '../../src/log.ts';
import { watchdogInterval, createNotifier } from '../../src/system/sd-notify.ts';

const logger = createLogger({ level: 'silent', destination: process.stderr as any });

function fakeBackend(initial: UsbDeviceInfo[]): UsbBackend & { attach(d: UsbDeviceInfo): void; detach(h: string): void; stopped: boolean } {
  let onA: (d: UsbDeviceInfo) => void = () => undefined;
  let onD: (h: string) => void = () => undefined;
  return {
    stopped: false,
    list: async () => initial,
    onAttach: async (cb) => void (onA = cb),
    onDetach: async (cb) => void (onD = cb),
    async stop() {
      this.stopped = true;
    },
    attach: (d) => onA(d),
    detach: (h) => onD(h),
  };
}

t.test('known registers', async (t) => {
  t.ok(isKnownRegister(0x1fc9, 0x0083));
  t.ok(isKnownRegister(0x04d9, 0xb534));
  t.ok(isKnownRegister(0x2912, 0x0005));
  t.notOk(isKnownRegister(0x1fc9, 0x0089), 'DFU bootloader is not a register');
  t.notOk(isKnownRegister(0x0403, 0x6001));
});

t.test('detach of the register drops the link and wakes the dispatcher; attach while down wakes it', async (t) => {
  const backend = fakeBackend([{ handle: 'a', vendorId: 0x1fc9, productId: 0x0083 }, { handle: 'm', vendorId: 0x046d, productId: 0xc077 }]);
  const hp = new RegisterHotplug({ logger, backend: async () => backend });
  await hp.start();
  t.ok(hp.active);
  const calls: string[] = [];
  const state = { up: true };
  wireHotplug(hp, {
    link: { state, drop: async (e) => void (calls.push(`drop ${e.message}`), (state.up = false)) },
    dispatcher: { retryNow: () => void calls.push('retryNow') },
  });
  backend.detach('m');
  t.same(calls, [], 'a mouse leaving is ignored');
  backend.detach('a');
  await new Promise((r) => setImmediate(r));
  t.same(calls, ['drop register USB 1fc9:0083 detached', 'retryNow']);
  backend.attach({ handle: 'b', vendorId: 0x1fc9, productId: 0x0083 });
  t.same(calls.at(-1), 'retryNow', 'attach with the link down wakes the dispatcher');
  state.up = true;
  const n = calls.length;
  backend.attach({ handle: 'c', vendorId: 0x2912, productId: 0x0005 });
  t.equal(calls.length, n, 'attach with the link up leaves it alone');
  await hp.stop();
  t.ok(backend.stopped);
});

t.test('the real libusb backend without /sys/bus/usb (containers, CI) degrades without throwing', async (t) => {
  const hp = new RegisterHotplug({ logger, backend: nativeUsbBackend });
  await hp.start();
  t.pass(`started; hot-plug ${hp.active ? 'active' : 'inactive'}`);
  await hp.stop();
});

t.test('sd_notify: no-op without NOTIFY_SOCKET; watchdog interval from WATCHDOG_USEC for this PID', async (t) => {
  const n = await createNotifier({ logger, env: {} });
  t.notOk(n.enabled);
  await n.ready();
  t.equal(watchdogInterval({ WATCHDOG_USEC: '30000000' }, 5), 30_000);
  t.equal(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '6' }, 5), undefined, 'for another PID');
  t.equal(watchdogInterval({}, 5), undefined);
});
