import t from 'tap';
import net from 'node:net';
import { SerialPortMock } from 'serialport';
import { randomBytes } from 'node:crypto';
import { openPort, parseTcpTarget } from '../../drivers/transport.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { ShtrihLink } from '../../drivers/shtrih/protocol.ts';
import { MemPort, ShtrihPeer, fastLink, hex } from './peer.ts';

const STATUS_ANSWER = hex('10 00 1E B2 02 02 00 00 9F F8 00 00 00 75 08 00');

t.test('tty through serialport with an injected binding: bytes both ways, gone on close', async (t) => {
  SerialPortMock.binding.reset();
  SerialPortMock.binding.createPort('/dev/ttyFAKE0', { echo: true });
  const port = await openPort('/dev/ttyFAKE0', { binding: SerialPortMock.binding });
  const got: Buffer[] = [];
  port.onData((c) => got.push(c));
  let gone: Error | undefined;
  port.onGone((e) => (gone = e));
  await port.write(hex('05'));
  await new Promise((r) => setTimeout(r, 20));
  t.same(Buffer.concat(got), hex('05'), 'the mock echoes what was written');
  await port.close();
  await new Promise((r) => setTimeout(r, 5));
  t.ok(gone, 'closing signals gone');
  await t.rejects(port.write(hex('05')));
  await t.rejects(openPort('/dev/ttyMISSING', { binding: SerialPortMock.binding }));
});

t.test('a write that reaches serialport while the port is closing (the cable pulled) ends with the port, not never', async (t) => {
  SerialPortMock.binding.reset();
  SerialPortMock.binding.createPort('/dev/ttyFAKE1', { echo: true });
  const port = await openPort('/dev/ttyFAKE1', { binding: SerialPortMock.binding });
  let gone: Error | undefined;
  port.onGone((e) => (gone = e));
  const closed = port.close(); // serialport is closing: isOpen is false until its 'close'
  const write = port.write(hex('05')).then(() => 'written', (e: Error) => `rejected: ${e.message}`);
  const settled = await Promise.race([write, new Promise((r) => setTimeout(() => r('still pending'), 2000))]);
  await closed;
  t.ok(gone, 'gone signalled');
  t.match(settled, /^rejected: .*closed/, 'the pending write is rejected with the reason the port went away');
});

t.test('a real pty through serialport with reads and writes on the main thread: every byte in order both ways, gone on hang-up', async (t) => {
  const pty = await createPty();
  t.teardown(() => pty.close());
  const port = await openPort(pty.path);
  let gone: Error | undefined;
  port.onGone((e) => (gone = e));
  const atDevice: Buffer[] = [];
  pty.stream.on('data', (c: Buffer) => atDevice.push(c));
  const atHost: Buffer[] = [];
  port.onData((c) => atHost.push(c));
  const waitFor = async (what: string, done: () => boolean): Promise<void> => {
    for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
    t.ok(done(), what);
  };

  // small writes one after another (each one write(2)), then one far larger than the pty's buffer: the part that did
  // not fit is written by serialport after it, and a write made meanwhile waits its turn
  const small = Array.from({ length: 50 }, (_, i) => Buffer.from([0x05, i]));
  for (const b of small) await port.write(b);
  const big = randomBytes(256 * 1024);
  const tail = Buffer.from('tail');
  await Promise.all([port.write(big), port.write(tail)]);
  const sent = Buffer.concat([...small, big, tail]);
  await waitFor('everything reached the device', () => Buffer.concat(atDevice).length >= sent.length);
  t.ok(Buffer.concat(atDevice).equals(sent), 'in order, nothing lost or doubled');

  const answer = randomBytes(64 * 1024);
  pty.stream.write(answer);
  await waitFor('the device\'s bytes reached the host', () => Buffer.concat(atHost).length >= answer.length);
  t.ok(Buffer.concat(atHost).equals(answer), 'in order');

  await pty.close(); // the cable pulled
  await waitFor('the hang-up is seen as gone', () => gone !== undefined);
  await t.rejects(port.write(hex('05')), 'writes fail once gone');
  await port.close();
});

t.test('tcp://host:port: a register behind TCP, with the extra 0xFF after each ACK', async (t) => {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const line = new MemPort();
    const peer = new ShtrihPeer(line, () => STATUS_ANSWER, { tcpFiller: true });
    line.toHost = (chunk) => void socket.write(chunk);
    socket.on('data', (chunk) => line.fromHost(chunk));
    t.teardown(() => void peer);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const { port: tcpPort } = server.address() as net.AddressInfo;
  const port = await openPort(`tcp://127.0.0.1:${tcpPort}`);
  const link = new ShtrihLink(port, fastLink);
  t.same(await link.send(hex('10 1E 00 00 00')), STATUS_ANSWER);
  t.same(await link.send(hex('10 1E 00 00 00')), STATUS_ANSWER, 'the filler byte does not disturb the next exchange');
  let gone: Error | undefined;
  port.onGone((e) => (gone = e));
  sockets[0]!.destroy();
  await new Promise((r) => setTimeout(r, 30));
  t.ok(gone, 'the peer closing the socket signals gone');
  await t.rejects(link.send(hex('10 1E 00 00 00')), { code: 'LINK_GONE' });
  await port.close();
});

t.test('tcp targets: parsing and refusal', async (t) => {
  t.same(parseTcpTarget('tcp://192.168.137.111:7778'), { host: '192.168.137.111', port: 7778 });
  t.throws(() => parseTcpTarget('tcp://host'));
  await t.rejects(openPort('tcp://127.0.0.1:1', { connectTimeoutMs: 500 }));
});
