/**
 * The fleet monitor (src/fleet/monitor.ts buildMonitor) in a process of its own, so that its CPU and RSS can be read
 * from /proc. Argument: a JSON object of MonitorOptions (mqttUrl, thresholds, …). Prints one line `{"url":…}` once
 * listening and subscribed; stops on SIGTERM.
 */
import { buildMonitor } from '../../src/fleet/monitor.ts';
import { exitAfterDrain } from '../../src/system/exit.ts';

const opts = JSON.parse(process.argv[2] ?? '{}');
const monitor = buildMonitor({ listen: '127.0.0.1:0', ...opts });
await monitor.start();
await monitor.ready;
process.stdout.write(`${JSON.stringify({ url: monitor.url })}\n`);
process.once('SIGTERM', () => {
  void monitor.stop().then(() => exitAfterDrain(0));
});
