/**
 * A job's keyed state for one input partition, made durable by a changelog topic written in the same
 * Kafka transaction as the job's outputs and offsets. After a crash the state is restored from the
 * changelog, so it matches the committed offsets exactly and a replay recomputes the same outputs.
 *
 * Writes made while processing one record are staged and applied only if that record succeeds, so a
 * use case that throws halfway leaves no partial state behind. Entries may expire: an entry is gone
 * once the state's clock (the largest record timestamp seen — deterministic under replay, unlike the
 * wall clock) passes its expiry.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

interface Entry {
  readonly value: JsonValue;
  /** Clock value (epoch ms) at which the entry expires; null = never. */
  readonly expires: number | null;
}

const CLOCK_KEY = '\u0000clock';

export class KeyedState {
  private readonly entries = new Map<string, Entry>();
  private readonly staged = new Map<string, Entry | null>();
  private readonly dirty = new Set<string>();
  private clockMs = 0;

  /** The state's clock: the largest record timestamp seen. */
  get clock(): number {
    return this.clockMs;
  }

  get size(): number {
    return this.entries.size;
  }

  advanceClock(timestampMs: number): void {
    if (timestampMs > this.clockMs) {
      this.clockMs = timestampMs;
      this.dirty.add(CLOCK_KEY);
    }
  }

  get(key: string): JsonValue | undefined {
    const entry = this.staged.has(key) ? this.staged.get(key) : this.entries.get(key);
    if (entry === undefined || entry === null) return undefined;
    if (entry.expires !== null && entry.expires <= this.clockMs) return undefined;
    return entry.value;
  }

  set(key: string, value: JsonValue, expiresAtMs: number | null = null): void {
    this.staged.set(key, { value, expires: expiresAtMs });
  }

  delete(key: string): void {
    this.staged.set(key, null);
  }

  /** The record succeeded: its staged writes become state. */
  commitRecord(): void {
    for (const [key, entry] of this.staged) {
      if (entry === null) this.entries.delete(key);
      else this.entries.set(key, entry);
      this.dirty.add(key);
    }
    this.staged.clear();
  }

  /** The record failed: its staged writes are dropped. */
  rollbackRecord(): void {
    this.staged.clear();
  }

  /** Removes expired entries (they read as absent already); they leave tombstones in the changelog. */
  sweep(): void {
    for (const [key, entry] of this.entries) {
      if (entry.expires !== null && entry.expires <= this.clockMs) {
        this.entries.delete(key);
        this.dirty.add(key);
      }
    }
  }

  /** The changelog records for everything changed since the last call: value JSON, or null to delete. */
  takeChanges(): { key: string; value: string | null }[] {
    const changes: { key: string; value: string | null }[] = [];
    for (const key of this.dirty) {
      if (key === CLOCK_KEY) {
        changes.push({ key, value: JSON.stringify({ v: this.clockMs, e: null }) });
        continue;
      }
      const entry = this.entries.get(key);
      changes.push({
        key,
        value: entry === undefined ? null : JSON.stringify({ v: entry.value, e: entry.expires }),
      });
    }
    this.dirty.clear();
    return changes;
  }

  /** Applies one changelog record during restore (later records win). */
  restore(key: string, value: string | null): void {
    if (key === CLOCK_KEY) {
      if (value !== null) this.clockMs = (JSON.parse(value) as { v: number }).v;
      return;
    }
    if (value === null) {
      this.entries.delete(key);
      return;
    }
    const parsed = JSON.parse(value) as { v: JsonValue; e: number | null };
    this.entries.set(key, { value: parsed.v, expires: parsed.e });
  }
}
