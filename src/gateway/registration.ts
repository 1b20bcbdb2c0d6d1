/**
 * The register's registration data as the gateway uses it: the register is the authority (its FN was registered with
 * the tax office for one INN, one РНМ and a set of taxation systems); the configuration may override the РНМ printed
 * in results (`fiscal.registration_number`) and narrow what is accepted, and every disagreement between the two is a
 * warning — in the log, in health and on the page — never silently resolved.
 */
import type { DeviceInfo, RegistrationData, TaxSystem } from '../../drivers/types.ts';
import type { Config } from '../config/index.ts';
import { isValidInn } from '../fiscal/rules.ts';

export interface EffectiveRegistration {
  /** tag 1037 for results and Z-reports */
  registrationNumber: string;
  /** taxation systems a receipt may use */
  taxSystems: TaxSystem[];
  /** the INN a receipt's company.inn must equal, when known */
  companyInn?: string;
  /** where each came from */
  source: { registrationNumber: 'register' | 'config' | 'none'; taxSystems: 'register' | 'config'; companyInn: 'register' | 'config' | 'none' };
  warnings: string[];
  /** the register's own data, when it gave it */
  register?: RegistrationData;
}

const trimInn = (s: string | undefined): string | undefined => {
  const v = s?.trim().replace(/^0+(?=\d{10}$)/, '');
  return v ? v : undefined;
};

export function effectiveRegistration(info: DeviceInfo | undefined, fiscal: Config['fiscal']): EffectiveRegistration {
  const reg = info?.registration;
  const regRn = (reg?.registrationNumber ?? info?.registrationNumber)?.trim() || undefined;
  const rawInn = trimInn(reg?.inn ?? info?.inn);
  const regTax = reg?.taxSystems ?? info?.taxSystems;
  const warnings: string[] = [];
  // a real register's INN always passes the checksum; one that does not is not enforced on receipts
  const regInn = rawInn && isValidInn(rawInn) ? rawInn : undefined;
  if (rawInn && !regInn) warnings.push(`the register reports INN ${rawInn}, which fails the INN checksum; receipts are not checked against it`);

  const cfgRn = fiscal.registration_number?.trim() || undefined;
  if (cfgRn && regRn && cfgRn.replace(/^0+/, '') !== regRn.replace(/^0+/, '')) {
    warnings.push(`fiscal.registration_number ${cfgRn} differs from the register's ${regRn}; results carry the configured one`);
  }
  const cfgInn = fiscal.company_inn;
  if (cfgInn && regInn && cfgInn !== regInn) {
    warnings.push(`fiscal.company_inn ${cfgInn} differs from the register's INN ${regInn}; receipts must carry the register's`);
  }
  let taxSystems: TaxSystem[] = fiscal.tax_systems;
  let taxSource: 'register' | 'config' = 'config';
  if (regTax && regTax.length > 0) {
    const notRegistered = fiscal.tax_systems.filter((t) => !regTax.includes(t));
    const allowed = fiscal.tax_systems.filter((t) => regTax.includes(t));
    if (notRegistered.length > 0) {
      warnings.push(`fiscal.tax_systems lists ${notRegistered.join(', ')}, which the register is not registered for (it is for ${regTax.join(', ')})`);
    }
    // the register decides; the configuration may only narrow it (a configuration wholly outside it is ignored)
    taxSystems = allowed.length > 0 ? allowed : regTax;
    taxSource = 'register';
  }
  const companyInn = regInn ?? cfgInn;
  return {
    registrationNumber: cfgRn ?? regRn ?? '',
    taxSystems,
    ...(companyInn ? { companyInn } : {}),
    source: {
      registrationNumber: cfgRn ? 'config' : regRn ? 'register' : 'none',
      taxSystems: taxSource,
      companyInn: regInn ? 'register' : cfgInn ? 'config' : 'none',
    },
    warnings,
    ...(reg ? { register: reg } : {}),
  };
}

/** The health / status section. */
export function registrationSection(e: EffectiveRegistration): Record<string, unknown> {
  const r = e.register;
  return {
    inn: e.companyInn ?? null,
    registration_number: e.registrationNumber || null,
    tax_systems: e.taxSystems,
    source: e.source,
    register: r
      ? {
          inn: r.inn,
          registration_number: r.registrationNumber,
          tax_systems: r.taxSystems,
          modes: r.modes,
          mode_bits: r.modeBits,
          ...(r.extendedModeBits !== undefined ? { extended_mode_bits: r.extendedModeBits } : {}),
          ...(r.ofdInn ? { ofd_inn: r.ofdInn } : {}),
          ...(r.fdNumber !== undefined ? { fiscal_document_number: r.fdNumber } : {}),
          ...(r.dateTime ? { datetime: r.dateTime } : {}),
        }
      : null,
    warnings: e.warnings,
  };
}
