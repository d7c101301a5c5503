/**
 * One transactional producer per input partition, with a transactional id derived from the
 * partition: whoever processes that partition next (after a crash or a rebalance, on any instance)
 * fences the previous owner, so a zombie can never commit. Used by every job that commits its
 * outputs and input offsets together.
 */
import type { Kafka, Producer } from 'kafkajs';

export class PartitionProducers {
  private readonly producers = new Map<number, Promise<Producer>>();

  constructor(
    private readonly kafka: Kafka,
    /** The transactional id of partition p is `${idPrefix}.${p}`. */
    private readonly idPrefix: string,
  ) {}

  get(partition: number): Promise<Producer> {
    let producer = this.producers.get(partition);
    if (producer === undefined) {
      const created = this.kafka.producer({
        transactionalId: `${this.idPrefix}.${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      producer = created.connect().then(() => created);
      // A failed connection is not kept: the next batch tries again.
      void producer.catch(() => this.producers.delete(partition));
      this.producers.set(partition, producer);
    }
    return producer;
  }

  /** Drops a producer whose transaction failed (its state is unknown); the next batch makes a new one. */
  async discard(partition: number): Promise<void> {
    const producer = this.producers.get(partition);
    this.producers.delete(partition);
    if (producer !== undefined) await (await producer).disconnect().catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    const all = await Promise.allSettled([...this.producers.values()]);
    this.producers.clear();
    for (const result of all) if (result.status === 'fulfilled') await result.value.disconnect();
  }
}

/** Remembers work in flight so that close() can wait for it even if the consumer stops first. */
export class InFlight {
  private readonly pending = new Set<Promise<void>>();

  async track(work: Promise<void>): Promise<void> {
    this.pending.add(work);
    try {
      await work;
    } finally {
      this.pending.delete(work);
    }
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
