import t from 'tap';
import { AtolLink, LinkError, type LinkOptions } from '../../drivers/atol/tasks.ts';
import { AtolPeer, MemPort, fastLink, hex, peerFrame, type AtolPeerFaults, type PeerDelivery } from './peer.ts';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { duplexPair } from '../../drivers/emulator/duplex-pair.ts';

const STATUS = hex('00 00 3F');
const OK = hex('55 00 00');

function setup(delivery: PeerDelivery = 'sync', faults: AtolPeerFaults = {}, opts: LinkOptions = {}) {
  const port = new MemPort();
  const peer = new AtolPeer(port, (p) => (p[2] === 0x3f ? hex('44 01 02') : p[2] === 0x92 ? hex('55 9B 00') : OK), delivery, faults);
  const link = new AtolLink(port, { ...fastLink, ...opts, quirks: { ...fastLink.quirks, ...opts.quirks } });
  return { port, peer, link };
}

async function linkError(p: Promise<unknown>): Promise<LinkError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof LinkError) return err;
    throw err;
  }
  throw new Error('expected a LinkError');
}

for (const delivery of ['sync', 'async', 'poll'] as const) {
  t.test(`result delivered ${delivery}: taken, then acknowledged with C2`, async (t) => {
    // async: the host's C3 poll must not come before the device's F0 packet (on a loaded machine 5 ms can)
    const { peer, link } = setup(delivery, {}, { quirks: { ackWithNextAdd: false, ...(delivery === 'async' ? { pollMs: 300 } : {}) } });
    const r = await link.task(STATUS);
    t.same(r.data, hex('44 01 02'));
    t.equal(r.status, 'result');
    t.equal(r.via, delivery === 'async' ? 'async' : 'sync');
    t.same(peer.executedCodes(), ['3F']);
    t.equal(peer.count(0xc1), 1);
    t.equal(peer.count(0xc2), 1, 'acknowledged');
    t.equal(peer.tasks.size, 0, 'the device buffer is empty again');
  });
}

t.test('a device without C5: refused once (B4), then C1 and C2; every task runs once', async (t) => {
  const { peer, link } = setup();
  await link.task(STATUS);
  t.equal(peer.count(0xc2), 0, 'the first result is acknowledged with the next add');
  await link.task(STATUS);
  await link.task(STATUS);
  t.same(peer.executedCodes(), ['3F', '3F', '3F'], 'each task executed once');
  t.equal(peer.count(0xc5), 1, 'C5 tried once');
  t.equal(peer.count(0xc2), 2, 'then C2 for each result');
});

t.test('C5 on the emulator: the result of a task is acknowledged in the packet that adds the next', async (t) => {
  const port = new MemPort();
  const emu = new Emulator({ protocol: 'atol' });
  const [host, device] = duplexPair();
  emu.attach(device);
  port.fromHost = (c) => void host.write(c);
  host.on('data', (c: Buffer) => port.toHost(c));
  t.teardown(() => emu.close());
  const link = new AtolLink(port, { ...fastLink, quirks: { ...fastLink.quirks, pollMs: 5 } });
  const first = await link.task(STATUS);
  await link.task(STATUS);
  await link.task(STATUS);
  const kinds = port.written.map((f) => f[4]!); // FE LEN0 LEN1 ID, then the buffer command
  t.same(kinds.filter((k) => k === 0xc1 || k === 0xc5 || k === 0xc2), [0xc1, 0xc5, 0xc5], 'C1, then C5 acknowledging the previous result; no C2');
  const c5 = port.written.find((f) => f[4] === 0xc5)!;
  t.equal(c5[5], first.tid, 'C5 names the task it acknowledges');
  t.equal(first.status, 'result');
});

t.test('C1 bytes: flags 01 (need result), TID, then the command', async (t) => {
  const { peer, link } = setup();
  await link.task(STATUS);
  const add = peer.packets.find((p) => p.data[0] === 0xc1)!;
  t.same(add.data, hex('C1 01 00 00 00 3F'));
  t.equal(add.id, 0x00, 'first packet ID 00');
});

t.test('an empty answer asks for the same packet again (same ID); the task runs once', async (t) => {
  const { peer, link } = setup('sync', { emptyAnswers: 2 });
  const r = await link.task(STATUS);
  t.same(r.data, hex('44 01 02'));
  const adds = peer.packets.filter((p) => p.data[0] === 0xc1);
  t.equal(adds.length, 3);
  t.equal(new Set(adds.map((p) => p.id)).size, 1, 'resent with the same packet ID');
  t.same(peer.executedCodes(), ['3F']);
  t.equal(link.counters.resends, 2);
});

t.test('lost answer to C1: the state is asked with C3, the task is never added twice', async (t) => {
  for (const delivery of ['sync', 'async', 'poll'] as const) {
    const { peer, link } = setup(delivery, { loseAddAnswers: 1 });
    const r = await link.task(hex('00 00 4A 00 01 00 00 00 00 00'));
    t.same(r.data, OK, delivery);
    t.equal(peer.count(0xc1), 1, `${delivery}: one C1`);
    // async: the A6 may come before the host asks; either way nothing is added again
    if (delivery !== 'async') t.ok(peer.count(0xc3) >= 1, `${delivery}: asked with C3`);
    t.same(peer.executedCodes(), ['4A'], `${delivery}: executed once`);
  }
});

t.test('corrupted and garbled answers are dropped; recovery by C3', async (t) => {
  const { peer, link } = setup('sync', { corruptAnswers: 1, junkBeforeAnswer: hex('00 FD 13 37') });
  const r = await link.task(hex('00 00 4A 00 01 00 00 00 00 00'));
  t.same(r.data, OK);
  t.equal(peer.count(0xc1), 1);
  t.same(peer.executedCodes(), ['4A']);
  t.ok(link.deframerStats.badCrc >= 1);
});

t.test('C1 lost on the way (B3 to C3): an idempotent task is added again, anything else fails ANSWER_LOST (unknown)', async (t) => {
  const a = setup('sync', { dropAdds: 1 });
  const r = await a.link.task(STATUS, { idempotent: true });
  t.same(r.data, hex('44 01 02'));
  t.equal(a.peer.count(0xc1), 2);
  t.same(a.peer.executedCodes(), ['3F']);

  const b = setup('sync', { dropAdds: 1 });
  const err = await linkError(b.link.task(hex('00 00 4A 00 01 00 00 00 00 00')));
  t.equal(err.code, 'ANSWER_LOST');
  t.equal(err.delivery, 'unknown');
  t.ok(err.possiblyDelivered);
  t.equal(b.peer.count(0xc1), 1, 'not added again');
  t.same(b.peer.executedCodes(), []);
});

t.test('async result lost: C3 polling gets it', async (t) => {
  const { peer, link } = setup('async', { loseAsync: 1 });
  const r = await link.task(STATUS);
  t.same(r.data, hex('44 01 02'));
  t.ok(peer.count(0xc3) >= 1);
  t.same(peer.executedCodes(), ['3F']);
});

t.test('asynchronous packets for other tasks and unknown ones are ignored', async (t) => {
  const { port, peer, link } = setup('poll');
  port.toHost(peerFrame(0xf0, hex('A6 77 55 00 00')));
  port.toHost(peerFrame(0xf0, hex('99')));
  const r = await link.task(STATUS);
  t.same(r.data, hex('44 01 02'));
  t.same(peer.executedCodes(), ['3F']);
});

t.test('a device error result (55 err): status error, then C4 clears the stopped buffer', async (t) => {
  const { peer, link } = setup();
  const r = await link.task(hex('00 00 92 00 01'));
  t.equal(r.status, 'error');
  t.same(r.data, hex('55 9B 00'));
  t.equal(peer.count(0xc4), 1);
  t.equal(peer.count(0xc2), 0);
});

t.test('B1 overflow / A5 stopped to C1: C4, then added once more', async (t) => {
  for (const faults of [{ overflow: 1 }, { stopped: 1 }]) {
    const { peer, link } = setup('sync', faults);
    const r = await link.task(STATUS);
    t.same(r.data, hex('44 01 02'));
    t.equal(peer.count(0xc4), 1);
    t.equal(peer.count(0xc1), 2);
    t.same(peer.executedCodes(), ['3F']);
  }
  const { link } = setup('sync', { overflow: 5 });
  const err = await linkError(link.task(STATUS));
  t.equal(err.code, 'TASK_BUFFER');
  t.equal(err.delivery, 'not_sent');
});

t.test('the device forgets a task it took (restart): ANSWER_LOST, delivered', async (t) => {
  const { link } = setup('poll', { forgetOnReq: true });
  const err = await linkError(link.task(hex('00 00 4A 00 01 00 00 00 00 00')));
  t.equal(err.code, 'ANSWER_LOST');
  t.equal(err.delivery, 'delivered');
});

t.test('silent device: NO_LINK; a C1 written to it counts as possibly delivered', async (t) => {
  const { link } = setup('sync', { silent: true });
  const err = await linkError(link.task(STATUS));
  t.equal(err.code, 'NO_LINK');
  t.ok(err.possiblyDelivered);
  const abort = await linkError(link.abort());
  t.equal(abort.code, 'NO_LINK');
});

t.test('a task that never ends: ANSWER_TIMEOUT after its timeout, delivered', async (t) => {
  const { link } = setup('sync', { hang: true });
  const err = await linkError(link.task(STATUS, { timeoutMs: 60 }));
  t.equal(err.code, 'ANSWER_TIMEOUT');
  t.equal(err.delivery, 'delivered');
});

t.test('packet IDs 00…DF and task IDs wrap', async (t) => {
  const { peer, link } = setup('sync', {}, { quirks: { ackResults: false } });
  for (let i = 0; i < 0xe2; i++) await link.task(STATUS);
  const ids = peer.packets.map((p) => p.id);
  t.equal(Math.max(...ids), 0xdf);
  const wrap = ids.indexOf(0xdf);
  t.same(ids.slice(wrap, wrap + 3), [0xdf, 0x00, 0x01]);
  const tids = peer.packets.filter((p) => p.data[0] === 0xc1).map((p) => p.data[2]);
  t.same(tids.slice(0xdf, 0xe2), [0xdf, 0x00, 0x01]);
});

t.test('no C2 with ackResults off ([A1]/[A4] behaviour)', async (t) => {
  const { peer, link } = setup('async', {}, { quirks: { ackResults: false } });
  await link.task(STATUS);
  t.equal(peer.count(0xc2), 0);
});

t.test('the port goes away mid-task: LINK_GONE', async (t) => {
  const { port, link } = setup('sync', { hang: true });
  const p = link.task(STATUS, { timeoutMs: 5000 });
  setTimeout(() => port.pull(), 20);
  const err = await linkError(p);
  t.equal(err.code, 'LINK_GONE');
  t.ok(err.possiblyDelivered);
});

t.test('abort signal: ABORTED', async (t) => {
  const { link } = setup('sync', { hang: true });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 20);
  const err = await linkError(link.task(STATUS, { timeoutMs: 5000, signal: ac.signal }));
  t.equal(err.code, 'ABORTED');
});
