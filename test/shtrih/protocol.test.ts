import t from 'tap';
import { LinkError, ShtrihLink, type LinkOptions } from '../../drivers/shtrih/protocol.ts';
import { MemPort, ShtrihPeer, fastLink, hex, type PeerFaults } from './peer.ts';

const STATUS_REQ = hex('10 1E 00 00 00');
/** the captured 10h answer (kkt-protocols.md §1.2) */
const STATUS_ANSWER = hex('10 00 1E B2 02 02 00 00 9F F8 00 00 00 75 08 00');
const CLOSE_REQ = Buffer.concat([hex('FF 45 1E 00 00 00'), Buffer.alloc(112)]);
const CLOSE_ANSWER = hex('FF 45 00 00 00 00 00 00 B3 60 03 00 DB 45 DB 70');

/** echoes a canned answer per command code; anything else answers "command not supported" */
function answers(req: Buffer): Buffer {
  if (req[0] === 0x10) return STATUS_ANSWER;
  if (req[0] === 0xff && req[1] === 0x45) return CLOSE_ANSWER;
  if (req[0] === 0x11) return hex('11 00 1E');
  return Buffer.from([req[0]!, 0x37]);
}

function setup(faults: PeerFaults = {}, opts: LinkOptions = {}) {
  const port = new MemPort();
  const peer = new ShtrihPeer(port, answers, faults);
  const link = new ShtrihLink(port, { ...fastLink, ...opts });
  return { port, peer, link };
}

async function failure(p: Promise<unknown>): Promise<LinkError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof LinkError) return err;
    throw err;
  }
  throw new Error('expected a LinkError');
}

/** resolves once the peer has seen a frame and its ACK has had the chance to reach the host */
async function afterFrameTaken(peer: ShtrihPeer): Promise<void> {
  while (peer.framesSeen === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

const writtenBytes = (port: MemPort): Buffer => Buffer.concat(port.written);
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('normal exchange: ENQ, NAK, frame, ACK, answer, ACK', async (t) => {
  const { port, peer, link } = setup();
  const answer = await link.send(STATUS_REQ);
  t.same(answer, STATUS_ANSWER);
  t.same(writtenBytes(port), hex('05 02 05 10 1E 00 00 00 0B'), 'the ACK is not written yet: it may go with the next ENQ');
  await nextTurn(); // nothing followed: the ACK goes out on its own
  t.same(writtenBytes(port), hex('05 02 05 10 1E 00 00 00 0B 06'), 'the captured host bytes of §1.2');
  t.equal(peer.executed.length, 1);
  await nextTurn(); // the ACK travels to the device
  t.equal(peer.pending, undefined, 'the answer was acknowledged');
});

t.test('the ACK of an answer and the next command\'s ENQ go out in one write (06 05, as in §1.2)', async (t) => {
  const { port, peer, link } = setup();
  await link.send(STATUS_REQ);
  await link.send(CLOSE_REQ);
  await nextTurn();
  t.same(peer.executedCodes(), ['10', 'FF45']);
  t.ok(port.written.some((w) => w.equals(hex('06 05'))), 'ACK + ENQ in one write');
  t.equal(port.written.filter((w) => w.equals(hex('06'))).length, 1, 'only the last answer\'s ACK on its own');
  await nextTurn();
  t.equal(peer.pending, undefined, 'both answers acknowledged');
});

t.test('commands are serialized: one in flight', async (t) => {
  const { peer, link } = setup();
  const [a, b] = await Promise.all([link.send(STATUS_REQ), link.send(CLOSE_REQ)]);
  t.same(a, STATUS_ANSWER);
  t.same(b, CLOSE_ANSWER);
  t.same(peer.executedCodes(), ['10', 'FF45']);
});

t.test('a NAKed frame is sent again and executed once', async (t) => {
  const { peer, link } = setup({ nakFrames: 2 });
  t.same(await link.send(CLOSE_REQ), CLOSE_ANSWER);
  t.equal(peer.framesSeen, 3);
  t.equal(peer.executed.length, 1);
});

t.test('a frame lost on the way: no ACK, ENQ answered NAK, so it is sent again', async (t) => {
  const { peer, link } = setup({ dropFrames: 1 });
  t.same(await link.send(CLOSE_REQ), CLOSE_ANSWER);
  t.equal(peer.framesSeen, 2);
  t.equal(peer.executed.length, 1);
});

t.test('lost ACK: the device took the frame; the answer is read and the command is not sent twice', async (t) => {
  const { peer, link } = setup({ loseAcks: 1 });
  t.same(await link.send(CLOSE_REQ), CLOSE_ANSWER);
  t.equal(peer.framesSeen, 1, 'the frame went out once');
  t.same(peer.executedCodes(), ['FF45']);
});

t.test('lost ACK and lost answer: ENQ → ACK → the held answer is ours', async (t) => {
  const { peer, link } = setup({ loseAcks: 1, loseAnswers: 1 });
  t.same(await link.send(CLOSE_REQ), CLOSE_ANSWER);
  t.equal(peer.framesSeen, 1, 'the frame went out once');
  t.equal(peer.executed.length, 1);
  t.ok(peer.enqCount >= 2, 'recovered with ENQ');
});

t.test('lost answer: after the answer timeout ENQ → ACK → the device resends it', async (t) => {
  const { peer, link } = setup({ loseAnswers: 1 });
  t.same(await link.send(CLOSE_REQ), CLOSE_ANSWER);
  t.equal(peer.framesSeen, 1);
  t.equal(peer.executed.length, 1);
  t.equal(peer.enqCount, 2);
});

t.test('bad LRC in the answer: NAK, ENQ, ACK, read again', async (t) => {
  const { port, peer, link } = setup({ corruptAnswers: 2 });
  t.same(await link.send(CLOSE_REQ), CLOSE_ANSWER);
  t.equal(peer.executed.length, 1);
  await nextTurn();
  const hostBytes = writtenBytes(port);
  t.equal(hostBytes.filter((b) => b === 0x15).length, 2, 'two NAKs for two damaged answers');
  t.equal(hostBytes[hostBytes.length - 1], 0x06, 'the good answer is ACKed');
});

t.test('0xFF fillers and junk bytes are skipped', async (t) => {
  const { peer, link } = setup({ fillers: true, junkBeforeAnswer: hex('FF FF 00 FF') });
  t.same(await link.send(STATUS_REQ), STATUS_ANSWER);
  t.same(await link.send(CLOSE_REQ), CLOSE_ANSWER);
  t.equal(peer.executed.length, 2);
});

t.test('a pending answer of an earlier command is discarded, then the command is sent', async (t) => {
  const { peer, link } = setup();
  peer.pending = hex('11 00 1E');
  t.same(await link.send(STATUS_REQ), STATUS_ANSWER);
  t.same(peer.executedCodes(), ['10']);
});

t.test('a pending answer with the same code, from before this command was sent, is not taken as ours', async (t) => {
  const { peer, link } = setup();
  peer.pending = hex('10 00 1E 00 00 04 00');
  t.same(await link.send(STATUS_REQ), STATUS_ANSWER, 'the fresh answer, not the stale one');
  t.equal(peer.executed.length, 1);
});

t.test('no link: silent device → NO_LINK, certainly not delivered', async (t) => {
  const { port, peer, link } = setup({ silent: true });
  const err = await failure(link.send(CLOSE_REQ));
  t.equal(err.code, 'NO_LINK');
  t.equal(err.kind, 'retryable');
  t.equal(err.delivery, 'not_sent');
  t.notOk(err.possiblyDelivered);
  t.equal(peer.enqCount, fastLink.retries);
  t.notOk(writtenBytes(port).includes(0x02), 'no frame was written');
});

t.test('the device refuses the frame past the retry limit → not delivered', async (t) => {
  const { peer, link } = setup({ nakFrames: 100 });
  const err = await failure(link.send(CLOSE_REQ));
  t.equal(err.code, 'LINK_ERROR');
  t.equal(err.delivery, 'not_sent');
  t.equal(peer.framesSeen, fastLink.retries);
  t.equal(peer.executed.length, 0);
});

t.test('damaged answers past the retry limit → LINK_ERROR, delivered', async (t) => {
  const { peer, link } = setup({ corruptAnswers: 100 });
  const err = await failure(link.send(CLOSE_REQ));
  t.equal(err.code, 'LINK_ERROR');
  t.equal(err.delivery, 'delivered');
  t.ok(err.possiblyDelivered);
  t.equal(peer.framesSeen, 1, 'never sent twice');
});

t.test('frame ACKed, answer never comes (device keeps preparing) → ANSWER_TIMEOUT, delivered', async (t) => {
  const { peer, link } = setup({ hang: true });
  const err = await failure(link.send(CLOSE_REQ));
  t.equal(err.code, 'ANSWER_TIMEOUT');
  t.equal(err.delivery, 'delivered');
  t.equal(peer.framesSeen, 1);
});

t.test('frame ACKed, then the device goes silent → NO_LINK, delivered', async (t) => {
  const { peer, link } = setup({ silentAfterAck: true });
  const err = await failure(link.send(CLOSE_REQ));
  t.equal(err.code, 'NO_LINK');
  t.equal(err.delivery, 'delivered');
  t.equal(peer.framesSeen, 1);
});

t.test('frame written, no ACK, then silence → NO_LINK, delivery unknown (possibly delivered)', async (t) => {
  const { peer, link } = setup({ silentAfterFrame: true });
  const err = await failure(link.send(CLOSE_REQ));
  t.equal(err.code, 'NO_LINK');
  t.equal(err.delivery, 'unknown');
  t.ok(err.possiblyDelivered);
  t.equal(peer.framesSeen, 1, 'never sent again');
});

t.test('frame ACKed, device then idle without an answer → ANSWER_LOST, delivered, never resent', async (t) => {
  const { peer, link } = setup({ forgetAnswers: 1 });
  const err = await failure(link.send(CLOSE_REQ));
  t.equal(err.code, 'ANSWER_LOST');
  t.equal(err.delivery, 'delivered');
  t.equal(peer.framesSeen, 1);
  t.equal(peer.executed.length, 1);
});

t.test('per-command answer timeouts: the table and overrides', async (t) => {
  const link = new ShtrihLink(new MemPort(), { answerTimeouts: { 0xff45: 5000 } });
  t.equal(link.answerTimeout(0x10), 3000);
  t.equal(link.answerTimeout(0x41), 65000);
  t.equal(link.answerTimeout(0xe0), 120000);
  t.equal(link.answerTimeout(0xff45), 5000);
  t.equal(link.answerTimeout(0xff46), 30000);
});

t.test('the port goes away mid-exchange → LINK_GONE with what the device may know; later sends fail fast', async (t) => {
  const { port, peer, link } = setup({ hang: true });
  const p = link.send(CLOSE_REQ);
  // the port goes once the device has taken (ACKed) the frame, however slow this machine is
  void afterFrameTaken(peer).then(() => port.pull());
  const err = await failure(p);
  t.equal(err.code, 'LINK_GONE');
  t.equal(err.delivery, 'delivered');
  const next = await failure(link.send(STATUS_REQ));
  t.equal(next.code, 'LINK_GONE');
  t.equal(next.delivery, 'not_sent');
});

t.test('an aborted exchange reports ABORTED with its delivery state', async (t) => {
  const { peer, link } = setup({ hang: true });
  const ac = new AbortController();
  const p = link.send(CLOSE_REQ, { signal: ac.signal });
  void afterFrameTaken(peer).then(() => ac.abort());
  const err = await failure(p);
  t.equal(err.code, 'ABORTED');
  t.equal(err.delivery, 'delivered');
});

t.test('garbage from the line never crashes the link', async (t) => {
  const { port, peer, link } = setup();
  const junk = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
  peer.handler = () => Buffer.from([0x10, 0x00]);
  port.toHost(junk);
  const answer = await link.send(STATUS_REQ).catch((e: unknown) => e);
  t.ok(Buffer.isBuffer(answer) || answer instanceof LinkError);
});

t.test('ready: the ENQ goes at once, the frame only once the job is bound; false sends no frame', async (t) => {
  const { port, peer, link } = setup();
  let bind!: (ok: boolean) => void;
  const ready = new Promise<boolean>((resolve) => (bind = resolve));
  const sent = link.send(CLOSE_REQ, { ready });
  while (peer.enqCount === 0) await nextTurn();
  for (let i = 0; i < 5; i++) await nextTurn();
  t.same(writtenBytes(port), hex('05'), 'only the ENQ is out while the binding is being written');
  t.equal(peer.framesSeen, 0);
  bind(true);
  t.same(await sent, CLOSE_ANSWER, 'then the command runs as usual');
  t.equal(peer.enqCount, 1, 'no second ENQ after a short wait');
  t.same(peer.executedCodes(), ['FF45']);

  const refused = setup();
  const err = await failure(refused.link.send(CLOSE_REQ, { ready: Promise.resolve(false) }));
  t.equal(err.code, 'ABORTED');
  t.equal(err.delivery, 'not_sent', 'the device cannot have taken it');
  t.equal(refused.peer.framesSeen, 0, 'no frame reached the device');
  t.same(writtenBytes(refused.port), hex('05'));
});

t.test('ready: after a wait longer than the device\'s inter-byte timeout the NAK is asked for again', async (t) => {
  const { peer, link } = setup();
  const ready = new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 80));
  t.same(await link.send(CLOSE_REQ, { ready }), CLOSE_ANSWER);
  t.equal(peer.enqCount, 2, 'a fresh ENQ before the frame');
  t.same(peer.executedCodes(), ['FF45'], 'executed once');
});
