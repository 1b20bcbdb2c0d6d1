/** Minimal types for unix-dgram (no @types package): the socket factory used by sd-notify.ts. */
declare module 'unix-dgram' {
  import type { DgramSocket } from './sd-notify.ts';
  export function createSocket(type: 'unix_dgram', listener?: (msg: Buffer) => void): DgramSocket & { bind(path: string): void; on(event: 'message', l: (msg: Buffer) => void): unknown };
}
