import t from 'tap';
import { ofdLink } from '../../src/fiscal/link.ts';

t.test('fiscal.ofd_link: placeholders filled and encoded; no template, no link', async (t) => {
  const v = { inn: '5010051677', rn: '0000000001012345', fn: '9999078900001234', fd: 17, fp: 3647013117, qr: 't=20261202T0546&s=1.00' };
  t.equal(ofdLink('https://ofd.example/rec/{inn}/{rn}/{fn}/{fd}/{fp}', v), 'https://ofd.example/rec/5010051677/0000000001012345/9999078900001234/17/3647013117');
  t.equal(ofdLink('https://check.example/?{qr}', v), 'https://check.example/?t%3D20261202T0546%26s%3D1.00');
  t.equal(ofdLink('https://x.example/{unknown}/{fd}', v), 'https://x.example/{unknown}/17', 'an unknown placeholder stays as it is');
  t.equal(ofdLink(undefined, v), undefined);
});
