/**
 * A register that stops answering while the gateway is idle (no receipt coming): the status poll drops the link, so
 * health says `down` at once — the person on call sees it without waiting for the next sale — and the link comes
 * back up by itself when the register answers again. Both protocols, real pty.
 */
import t from 'tap';
import { makeRig, RIG_PROTOCOLS } from '../helpers/rig.ts';
import { runControl } from '../../drivers/emulator/control.ts';

for (const protocol of RIG_PROTOCOLS) {
  t.test(`${protocol}: idle, the register falls silent: health link down; it answers again: up`, async (t) => {
    const rig = await makeRig({ protocol, config: { mqtt: { health_interval: 1 } } });
    t.teardown(() => rig.close());
    await rig.startGateway();
    const health = (from: number, link: string) => () =>
      rig.store.messages.slice(from).some((m) => m.topic.endsWith('/health') && m.body?.register?.link === link);
    await rig.store.until(health(0, 'up'), 'link up', 20_000);
    const mark = rig.store.messages.length;
    runControl(rig.emulator, 'silent on');
    await rig.store.until(health(mark, 'down'), 'health says the link is down', 60_000);
    const down = [...rig.store.messages].reverse().find((m) => m.topic.endsWith('/health') && m.body?.register?.link === 'down')!;
    t.match(down.body.register.error, /./, 'with the reason');
    const back = rig.store.messages.length;
    runControl(rig.emulator, 'silent off');
    await rig.store.until(health(back, 'up'), 'link up again', 60_000);
    t.pass('up again without a receipt');
  });
}
