/**
 * The fleet monitor reads a pool's health: a problem on any register of a gateway (not only the first, whose fields
 * are also the top level) shows in the gateway's figures and raises the alert naming that register.
 */
import t from 'tap';
import { healthSnapshot, registerSection } from '../../src/gateway/health.ts';
import { conditions, DEFAULT_THRESHOLDS } from '../../src/fleet/alerts.ts';
import { figures } from '../../src/fleet/state.ts';
import type { DeviceStatus } from '../../drivers/types.ts';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const status = (paper: DeviceStatus['paper']): DeviceStatus => ({ shift: 'open', shiftNumber: 3, receiptNumber: 1, paper, coverOpen: false, receiptOpen: false, dateTime: '2026-12-02T15:00:00', fn: { serial: '9960440300112233', lastFd: 10, warnings: [] } , mode: 2, submode: 0 } as unknown as DeviceStatus);
const section = (id: string, name: string, up: boolean, paper: DeviceStatus['paper']): Record<string, unknown> => registerSection({
  id, name, port: `/dev/${id}`,
  link: { up, since: NOW - 60_000, lastOkAt: NOW - 1000, info: { protocol: 'shtrih', model: 'x', modelCode: 0, serial: id, firmware: '1' } as any },
  device: status(paper), deviceAt: NOW - 1000, dispatcher: { busy: false },
});

t.test('a second register out of paper: figures and alerts of the pool say so, naming it', async (t) => {
  const health = healthSnapshot({
    gatewayId: 'shop', version: '0', startedAt: NOW - 3600_000, now: NOW,
    queue: { depth: 3, outbox: 0 }, mqtt: { connected: true, broker: 'mqtt://x' },
    registers: [section('hall', 'Касса общего зала', true, 'ok'), section('bar', 'Бар', true, 'out')],
  });
  t.equal(health.paper, 'ok', 'the top level is the first register\'s');
  t.match(health.pool, { registers: 2, up: 2 });
  const record = { id: 'shop', state: 'online' as const, health, healthAt: NOW, zreports: [], lastSeen: NOW };
  t.equal(figures(record, NOW).paperOk, false, 'the gateway\'s paper figure is the worst register\'s');
  t.equal(figures(record, NOW).registerUp, true);
  const hits = conditions(record, DEFAULT_THRESHOLDS);
  t.match(hits.get('paper_out'), { severity: 'critical', message: /^Бар: paper: out/ });
  t.notOk(hits.has('register_down'));

  const down = healthSnapshot({ ...{ gatewayId: 'shop', version: '0', startedAt: NOW - 3600_000, now: NOW, queue: { depth: 0, outbox: 0 }, mqtt: { connected: true, broker: 'mqtt://x' } }, registers: [section('hall', '', true, 'ok'), section('bar', '', false, 'ok')] });
  const rec2 = { ...record, health: down };
  t.equal(figures(rec2, NOW).registerUp, false, 'one register down: the pool is not all up');
  t.match(conditions(rec2, DEFAULT_THRESHOLDS).get('register_down'), { message: /^bar: the register does not answer/ });
  t.notOk(conditions(rec2, DEFAULT_THRESHOLDS).has('paper_out'));
});
