/** Helpers for tests that drive a pty with `serialport` directly, as an independent host. */
import type { SerialPort } from 'serialport';

/** closes the port once its writes are done (a write still in libuv's pool at the close fails with EBADF) */
export function closeSerialPort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.drain(() => port.close(() => resolve())) : resolve()));
}
