/** Registration data: the register decides, the configuration overrides the РНМ and narrows; differences are warnings. */
import t from 'tap';
import { effectiveRegistration, registrationSection } from '../../src/gateway/registration.ts';
import { parseConfig } from '../../src/config/index.ts';
import type { DeviceInfo, RegistrationData } from '../../drivers/types.ts';

const fiscal = (f: Record<string, unknown> = {}) => parseConfig({ device: { port: '/dev/null' }, fiscal: f }).fiscal;
const reg = (r: Partial<RegistrationData> = {}): RegistrationData => ({
  inn: '5010051677', registrationNumber: '0000000001012345', taxSystems: ['osn', 'usn_income'],
  modes: { encryption: false, autonomous: false, automatic: false, services: false, bso: false, internet: true }, modeBits: 0x20, ...r,
});
const info = (r?: RegistrationData): DeviceInfo => ({
  protocol: 'shtrih', model: 'x', modelCode: 0, serial: '1', inn: r?.inn ?? '', fnNumber: '9999', firmware: '1',
  ...(r ? { registration: r, registrationNumber: r.registrationNumber, taxSystems: r.taxSystems } : {}),
});

t.test('no configuration: everything from the register', async (t) => {
  const e = effectiveRegistration(info(reg()), fiscal());
  t.equal(e.registrationNumber, '0000000001012345');
  t.equal(e.companyInn, '5010051677');
  t.same(e.taxSystems, ['osn'], 'the default ["osn"] narrows the register’s osn + usn_income');
  t.same(e.source, { registrationNumber: 'register', taxSystems: 'register', companyInn: 'register' });
  t.same(e.warnings, []);
  t.match(registrationSection(e), { registration_number: '0000000001012345', register: { inn: '5010051677', modes: { internet: true } } });
});

t.test('the configured РНМ overrides, and a difference is a warning', async (t) => {
  const e = effectiveRegistration(info(reg()), fiscal({ registration_number: '0000000002000000' }));
  t.equal(e.registrationNumber, '0000000002000000');
  t.equal(e.source.registrationNumber, 'config');
  t.match(e.warnings, [/registration_number 0000000002000000 differs from the register's 0000000001012345/]);
  t.same(effectiveRegistration(info(reg()), fiscal({ registration_number: '1012345' })).warnings, [], 'leading zeros are no difference');
});

t.test('the register’s INN and taxation systems are what receipts are checked against', async (t) => {
  const e = effectiveRegistration(info(reg()), fiscal({ company_inn: '7707083893', tax_systems: ['usn_income_outcome', 'osn'] }));
  t.equal(e.companyInn, '5010051677', 'the register’s INN, not the configured one');
  t.same(e.taxSystems, ['osn'], 'usn_income_outcome is not registered: dropped');
  t.equal(e.warnings.length, 2);
  t.match(e.warnings.join('\n'), /company_inn 7707083893 differs/);
  t.match(e.warnings.join('\n'), /usn_income_outcome, which the register is not registered for/);
  const outside = effectiveRegistration(info(reg({ taxSystems: ['patent'] })), fiscal({ tax_systems: ['osn'] }));
  t.same(outside.taxSystems, ['patent'], 'a configuration wholly outside the register: the register’s');
});

t.test('no registration data: the configuration; an INN failing its checksum is not enforced', async (t) => {
  const none = effectiveRegistration(info(), fiscal({ company_inn: '5010051677', registration_number: '42' }));
  t.same([none.registrationNumber, none.companyInn, none.taxSystems], ['42', '5010051677', ['osn']]);
  t.same(none.source, { registrationNumber: 'config', taxSystems: 'config', companyInn: 'config' });
  const bad = effectiveRegistration(info(reg({ inn: '7701234567' })), fiscal());
  t.equal(bad.companyInn, undefined);
  t.match(bad.warnings, [/7701234567, which fails the INN checksum/]);
  t.equal(effectiveRegistration(undefined, fiscal()).registrationNumber, '');
});
