/** Publishes the outbox (results, responses, Z-reports) whenever the broker is connected; acks each on PUBACK. */
import type { Logger } from '../log.ts';
import type { QueueStore } from '../queue/store.ts';

export interface Publisher {
  readonly connected: boolean;
  publish(topic: string, payload: string): Promise<void>;
}

export class OutboxPump {
  private running: Promise<void> | undefined;
  private again = false;
  constructor(
    private readonly store: QueueStore,
    private readonly mqtt: Publisher,
    private readonly logger: Logger,
    private readonly batch = 200,
  ) {}

  /** Starts a flush, or makes the running one look again when it ends. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.flush().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Resolves when the outbox is empty or the broker went away. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async flush(): Promise<void> {
    while (this.mqtt.connected) {
      const entries = await this.store.outboxBatch(this.batch);
      if (entries.length === 0) return;
      // publish a window concurrently (QoS 1 keeps the order on one connection); the ones the broker acknowledged
      // leave the outbox together, in one unsynced batch (a lost removal only re-sends a result)
      const results = await Promise.allSettled(entries.map((e) => this.mqtt.publish(e.topic, e.payload)));
      const acked = entries.filter((_, i) => results[i]!.status === 'fulfilled').map((e) => e.key);
      if (acked.length > 0) {
        try {
          await this.store.ackOutboxMany(acked);
        } catch (err) {
          // the disk refused the removal: the entries stay and are sent again (the contract allows a repeat)
          this.logger.warn({ err: String(err) }, 'outbox entries could not be removed; they will be sent again');
          return;
        }
      }
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) {
        this.logger.debug({ err: String((failed as PromiseRejectedResult).reason) }, 'outbox publish interrupted; will resend after reconnect');
        return;
      }
    }
  }
}
