/**
 * Routing a receipt to the registers of a pool: its optional `device` (pin), its company's INN and taxation system
 * against each register's registration data (src/pool/queue.ts uses it to pick, src/fiscal/parse.ts to refuse at
 * once a receipt no register can take).
 */
import type { TaxSystem } from '../../drivers/types.ts';

/** what routing needs of a job */
export interface Route {
  device?: string;
  inn?: string;
  sno?: TaxSystem;
}

/** A register's part of routing: its id and what its registration allows (unknown: anything). */
export interface RouteTarget {
  id: string;
  inn?: string;
  taxSystems?: TaxSystem[];
}

/** why a route fits no register of `targets`, or undefined when one fits */
export function routeProblem(route: Route, targets: RouteTarget[]): { code: 'UNKNOWN_DEVICE' | 'COMPANY_INN_MISMATCH' | 'TAX_SYSTEM_NOT_REGISTERED'; detail: string } | undefined {
  const pinned = route.device === undefined ? targets : targets.filter((t) => t.id === route.device);
  if (pinned.length === 0) return { code: 'UNKNOWN_DEVICE', detail: `${route.device} ∉ [${targets.map((t) => t.id).join(', ')}]` };
  const byInn = pinned.filter((t) => route.inn === undefined || t.inn === undefined || t.inn === route.inn);
  if (byInn.length === 0) return { code: 'COMPANY_INN_MISMATCH', detail: `${route.inn} ≠ ${pinned.map((t) => (targets.length > 1 ? `${t.id}: ${t.inn}` : t.inn)).join(', ')}` };
  const bySno = byInn.filter((t) => route.sno === undefined || t.taxSystems === undefined || t.taxSystems.includes(route.sno));
  if (bySno.length === 0) {
    return { code: 'TAX_SYSTEM_NOT_REGISTERED', detail: `${route.sno} ∉ ${byInn.map((t) => `${targets.length > 1 ? `${t.id}: ` : ''}[${(t.taxSystems ?? []).join(', ')}]`).join(', ')}` };
  }
  return undefined;
}

export function fits(route: Route, t: RouteTarget): boolean {
  return routeProblem(route, [t]) === undefined;
}

