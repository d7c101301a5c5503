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

  get size(): number {
    return this.pending.size;
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
