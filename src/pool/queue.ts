/**
 * The pool's one queue, seen by each register's dispatcher (src/dispatch/dispatcher.ts, DispatchStore).
 *
 * - A job is *bound* to a register by its in-flight record (`inflight/<register id>`, synced), written before its
 *   first byte is sent; from then on only that register takes it (its FN settles it: reconcile happens there).
 * - Jobs *start* in the order accepted: a register may claim the oldest job not yet bound, and only when no earlier
 *   claim is still on its way to being bound. A claim that fails before binding (register away, paper out) is
 *   released, and the job goes to another register that fits.
 * - A job fits a register when its `device` (pin) names that register, or names none, and the register's
 *   registration (INN, taxation systems) allows the receipt's company. Among the registers that fit, the first free
 *   one takes it; a register with a problem (link down, blocked) leaves it to a healthy one that fits.
 * - A job no register can take (the configuration changed since it was accepted) fails with a typed error.
 */
import { DriverError, type TaxSystem } from '../../drivers/types.ts';
import { Mutex } from '../../drivers/host-link.ts';
import type { DispatchJob, DispatchStore, InflightInfo } from '../dispatch/dispatcher.ts';
import type { Logger } from '../log.ts';
import type { QueueStore } from '../queue/store.ts';
import type { Job } from '../queue/types.ts';
import type { Register } from './register.ts';
import { fits, routeProblem, type Route, type RouteTarget } from '../fiscal/route.ts';

export type { Route, RouteTarget } from '../fiscal/route.ts';

/** the routing fields of a stored job (its body was fully validated when it was accepted) */
export function routeOfJob(job: Pick<Job, 'kind' | 'body' | 'params'>): Route {
  if (job.kind === 'command') {
    const device = job.params?.device;
    return typeof device === 'string' ? { device } : {};
  }
  try {
    const m = JSON.parse(job.body) as Record<string, any>;
    const doc = (m.receipt ?? m.correction) as Record<string, any> | undefined;
    const company = doc?.company as Record<string, unknown> | undefined;
    return {
      ...(typeof m.device === 'string' ? { device: m.device } : {}),
      ...(typeof company?.inn === 'string' ? { inn: company.inn } : {}),
      ...(typeof company?.sno === 'string' ? { sno: company.sno as TaxSystem } : {}),
    };
  } catch {
    return {};
  }
}

export interface PoolQueueDeps {
  store: QueueStore;
  registers: () => readonly Register[];
  logger: Logger;
  /** a job was bound, released or finished: other registers may take the next one */
  wakeAll: () => void;
}

export class PoolQueue {
  /** seq → id of the register that claimed it and is preparing to send it (not yet bound) */
  private readonly claimed = new Map<number, string>();
  private readonly lock = new Mutex();
  private readonly routes = new Map<number, Route>();

  constructor(private readonly d: PoolQueueDeps) {}

  /** the register's view: its bound job first, else the next job to start when it fits */
  forRegister(reg: Register): DispatchStore {
    return {
      head: () => this.next(reg),
      inflight: () => this.d.store.inflight(reg.id),
      setInflight: async (seq: number, info: Omit<InflightInfo, 'seq'>) => {
        const fn = reg.fnNumber();
        await this.d.store.setInflight(seq, { ...info, ...(fn ? { fn } : {}) }, reg.id);
        if (this.claimed.get(seq) === reg.id) this.claimed.delete(seq);
        this.d.wakeAll();
      },
      clearInflight: () => this.d.store.clearInflight(reg.id),
      release: (job: DispatchJob) => {
        if (this.claimed.get(job.seq) !== reg.id) return;
        this.claimed.delete(job.seq);
        this.d.wakeAll();
      },
      finished: (job: DispatchJob) => {
        this.routes.delete(job.seq);
        if (this.claimed.get(job.seq) === reg.id) this.claimed.delete(job.seq);
        this.d.wakeAll();
      },
    };
  }

  /** every register's routing data as known now */
  targets(): RouteTarget[] {
    return this.d.registers().map(targetOf);
  }

  /** jobs claimed or bound, for health */
  claims(): number {
    return this.claimed.size;
  }

  private route(job: Job): Route {
    let r = this.routes.get(job.seq);
    if (!r) {
      r = routeOfJob(job);
      if (this.routes.size > 4096) this.routes.clear();
      this.routes.set(job.seq, r);
    }
    return r;
  }

  private next(reg: Register): Promise<DispatchJob | undefined> {
    return this.lock.run(async () => {
      const store = this.d.store;
      const bound = await store.inflight(reg.id);
      if (bound) {
        const job = await store.getJob(bound.seq);
        if (job) return job;
        // the bound job was finished (its completion removes the record; a record of a job gone is stale)
        await store.clearInflight(reg.id);
      }
      if (this.claimed.size > 0) return undefined; // an earlier job is on its way to its register: it starts first
      const started = new Set([...store.inflightAll().values()].map((i) => i.seq));
      // commands pinned to a register that cannot take them now (link down, blocked) do not hold back the others:
      // the order guarantee is the receipts'; a command keeps its place on its own register
      const skipped = new Set<number>();
      for (;;) {
        const job = (await store.peek(started.size + skipped.size + 1)).find((j) => !started.has(j.seq) && !skipped.has(j.seq));
        if (!job) return undefined;
        const route = this.route(job);
        const registers = this.d.registers();
        if (job.kind === 'command' && route.device !== undefined && route.device !== reg.id) {
          const owner = registers.find((r) => r.id === route.device);
          if (owner && !healthy(owner) && skipped.size < 64) {
            skipped.add(job.seq);
            continue;
          }
        }
        const fitting = registers.filter((r) => fits(route, targetOf(r)));
        if (fitting.length === 0) {
          // accepted when a register fitted; none does now (configuration changed): a typed failure, not a wait
          const problem = routeProblem(route, registers.map(targetOf));
          const err = new DriverError('NO_REGISTER', 'rejected', `no register of this gateway can take this job (${problem?.code ?? 'routing'}: ${problem?.detail ?? ''})`);
          this.d.logger.warn({ seq: job.seq, externalId: job.externalId, route }, err.message);
          await reg.runner.finish(job, { status: 'fail', error: err });
          this.routes.delete(job.seq);
          continue;
        }
        if (!fitting.includes(reg)) return undefined;
        // leave the job to a healthy register that fits when this one has a problem
        if (!healthy(reg) && fitting.some((r) => r !== reg && healthy(r))) return undefined;
        this.claimed.set(job.seq, reg.id);
        return job;
      }
    });
  }
}

function targetOf(r: Register): RouteTarget {
  const reg = r.registration();
  return { id: r.id, ...(reg.companyInn ? { inn: reg.companyInn } : {}), taxSystems: reg.taxSystems };
}

function healthy(r: Register): boolean {
  return r.link.state.up && !r.dispatcher.state.blocked;
}
