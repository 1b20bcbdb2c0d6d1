/**
 * The running service's life under systemd: READY=1 once the gateway serves, watchdog pings from the main loop,
 * USB hot-plug, and the graceful stop on SIGTERM/SIGINT (STOPPING=1, finish the job on the wire, flush, `offline`),
 * with a second signal or the stop timeout exiting at once.
 */
import type { Logger } from '../log.ts';
import type { Notifier } from './sd-notify.ts';
import { RegisterHotplug, wireHotplug, type HotplugTarget, type UsbBackend } from '../device/hotplug.ts';
import { exitAfterDrain } from './exit.ts';

export interface ServedGateway extends HotplugTarget {
  start(): void;
  ready(): Promise<void>;
  stop(flushMs?: number): Promise<void>;
  store: { close(): Promise<void> };
}

export interface LifecycleOptions {
  gateway: ServedGateway;
  logger: Logger;
  notifier: Notifier;
  /** after this long the stop gives up and exits 1; keep it below the unit's TimeoutStopSec (90 s); default 80 s */
  stopTimeoutMs?: number;
  /** outbox flush bound during the stop; default 5 s */
  flushMs?: number;
  /** default: the real libusb backend */
  usb?: () => Promise<UsbBackend>;
  /** default: exit once stdout/stderr are drained, at most 2 s (tests inject) */
  exit?: (code: number) => void;
  /** default process (signal source) */
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
}

/** Starts the gateway and serves until a signal; resolves with the exit code after a graceful stop. */
export async function serve(o: LifecycleOptions): Promise<number> {
  const { gateway: gw, logger, notifier } = o;
  const exit = o.exit ?? ((code: number) => void exitAfterDrain(code, { maxWaitMs: 2000 }));
  const signals = o.signals ?? process;
  const stopTimeoutMs = o.stopTimeoutMs ?? 80_000;

  const hotplug = new RegisterHotplug({ logger: logger.child({ part: 'usb' }), ...(o.usb ? { backend: o.usb } : {}) });
  await hotplug.start();
  wireHotplug(hotplug, gw);

  let stopWatchdog: () => void = () => undefined;
  let stopping = false;
  const done = new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ sig }, 'second signal: exiting at once (the next start reconciles the register)');
        exit(1);
        return;
      }
      stopping = true;
      logger.info({ sig }, 'stopping: finishing the job on the wire, no new messages');
      void notifier.stopping('stopping: finishing the job on the wire');
      const timer = setTimeout(() => {
        logger.error({ ms: stopTimeoutMs }, 'stop timed out: exiting at once (the next start reconciles the register)');
        exit(1);
      }, stopTimeoutMs);
      timer.unref();
      const finish = async (): Promise<number> => {
        try {
          await gw.stop(o.flushMs ?? 5000);
          await gw.store.close();
          logger.info('stopped');
          return 0;
        } catch (err) {
          logger.error({ err }, 'stop failed');
          return 1;
        } finally {
          clearTimeout(timer);
          stopWatchdog();
          await hotplug.stop().catch(() => undefined);
          notifier.close();
          signals.off('SIGTERM', onSignal);
          signals.off('SIGINT', onSignal);
          // a second signal after this point exits at once as well
          signals.on('SIGTERM', onLate);
          signals.on('SIGINT', onLate);
        }
      };
      void finish().then(resolve);
    };
    const onLate = (): void => exit(1);
    signals.on('SIGTERM', onSignal);
    signals.on('SIGINT', onSignal);
  });

  const ready = gw.ready();
  gw.start();
  // Watchdog pings start with the main loop, before READY: systemd counts the watchdog from the start as well.
  stopWatchdog = notifier.startWatchdog();
  void ready.then(() => {
    if (stopping) return;
    logger.info('serving: store open, MQTT subscribed');
    void notifier.ready('serving');
  });
  return done;
}
