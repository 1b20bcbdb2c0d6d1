/** Link-level faults, armed at run time; counted ones are consumed one per occurrence. Shared by every link of an emulator. */

export type CountedLinkFault = 'drop-answer' | 'drop-ack' | 'garble-answer' | 'nak-frame';

export class LinkFaults {
  /** cable pulled: all input is ignored, nothing is sent */
  silent = false;
  private readonly counts = new Map<CountedLinkFault, number>();
  private readonly stalls: number[] = [];

  arm(fault: CountedLinkFault, count = 1): void {
    this.counts.set(fault, (this.counts.get(fault) ?? 0) + count);
  }

  /** the next `count` answers come `ms` late (after their print time) */
  stall(ms: number, count = 1): void {
    for (let i = 0; i < count; i++) this.stalls.push(ms);
  }

  /** consumes one occurrence of the fault when armed */
  take(fault: CountedLinkFault): boolean {
    const n = this.counts.get(fault) ?? 0;
    if (n <= 0) return false;
    if (n === 1) this.counts.delete(fault);
    else this.counts.set(fault, n - 1);
    return true;
  }

  takeStall(): number {
    return this.stalls.shift() ?? 0;
  }

  clear(): void {
    this.counts.clear();
    this.stalls.length = 0;
    this.silent = false;
  }

  describe(): string {
    const parts = [...this.counts].map(([k, n]) => `${k}×${n}`);
    if (this.stalls.length) parts.push(`stall×${this.stalls.length}`);
    if (this.silent) parts.push('silent');
    return parts.join(' ') || 'none';
  }
}
