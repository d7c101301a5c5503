/**
 * A job's keyed state for one input partition, made durable by the state store (store.ts), which
 * writes what changed since its last checkpoint and commits the input offset that goes with it.
 *
 * Writes made while processing one record are staged and applied only if that record succeeds, so a
 * use case that throws halfway leaves no partial state behind. Entries may expire: an entry is gone
 * once the state's clock (the largest record timestamp seen — deterministic under replay, unlike the
 * wall clock) passes its expiry.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A value kept live in memory and turned into JSON only when a checkpoint writes it (JSON.stringify
 * calls `toJSON`); after a restore it comes back as that JSON. Saves encoding on every write.
 */
export interface Serializable {
  toJSON(): unknown;
}

export type StateValue = JsonValue | Serializable;

interface Entry {
  readonly value: StateValue;
  /** Clock value (epoch ms) at which the entry expires; null = never. */
  readonly expires: number | null;
}

/** One change: the key, its value (null = deleted) and its expiry. */
export type Change = readonly [key: string, value: StateValue | null, expires: number | null];

export class KeyedState {
  private readonly entries = new Map<string, Entry>();
  private readonly staged = new Map<string, Entry | null>();
  /** Changed since the last checkpoint (takeChanges). */
  private readonly dirty = new Set<string>();
  /** Written since the last takeTouched (the last checkpoint): whose side effects are due. */
  private readonly touched = new Set<string>();
  private clockMs = 0;

  /** The state's clock: the largest record timestamp seen. */
  get clock(): number {
    return this.clockMs;
  }

  get size(): number {
    return this.entries.size;
  }

  advanceClock(timestampMs: number): void {
    if (timestampMs > this.clockMs) this.clockMs = timestampMs;
  }

  get(key: string): StateValue | undefined {
    const entry = this.staged.has(key) ? this.staged.get(key) : this.entries.get(key);
    if (entry === undefined || entry === null) return undefined;
    if (entry.expires !== null && entry.expires <= this.clockMs) return undefined;
    return entry.value;
  }

  set(key: string, value: StateValue, expiresAtMs: number | null = null): void {
    this.staged.set(key, { value, expires: expiresAtMs });
  }

  delete(key: string): void {
    this.staged.set(key, null);
  }

  /** The record succeeded: its staged writes become state. */
  commitRecord(): void {
    if (this.staged.size === 0) return;
    for (const [key, entry] of this.staged) {
      if (entry === null) this.entries.delete(key);
      else this.entries.set(key, entry);
      this.dirty.add(key);
      this.touched.add(key);
    }
    this.staged.clear();
  }

  /** The record failed: its staged writes are dropped. */
  rollbackRecord(): void {
    this.staged.clear();
  }

  /** Removes expired entries (they read as absent already). */
  sweep(): void {
    for (const [key, entry] of this.entries) {
      if (entry.expires !== null && entry.expires <= this.clockMs) {
        this.entries.delete(key);
        this.dirty.add(key);
      }
    }
  }

  /**
   * The entries written since the last call, with their values, for the side effects of a
   * checkpoint. Expired ones too: an entry may expire between its last write and the checkpoint
   * (records of more than its lifetime between two checkpoints), and its last value is still due.
   * Deleted ones are left out.
   */
  takeTouched(): Map<string, StateValue> {
    const touched = new Map<string, StateValue>();
    for (const key of this.touched) {
      const entry = this.entries.get(key);
      if (entry !== undefined) touched.set(key, entry.value);
    }
    this.touched.clear();
    return touched;
  }

  /** Everything changed since the last call, for a checkpoint. */
  takeChanges(): Change[] {
    const changes: Change[] = [];
    for (const key of this.dirty) {
      const entry = this.entries.get(key);
      changes.push(entry === undefined ? [key, null, null] : [key, entry.value, entry.expires]);
    }
    this.dirty.clear();
    return changes;
  }

  /** Every entry, for a snapshot (pending changes are part of it). */
  takeAll(): Change[] {
    this.dirty.clear();
    return [...this.entries].map(([key, entry]) => [key, entry.value, entry.expires]);
  }

  /** True when something changed since the last checkpoint. */
  get changed(): boolean {
    return this.dirty.size > 0;
  }

  /** Applies one change during restore (later changes win). */
  apply([key, value, expires]: Change): void {
    if (value === null) this.entries.delete(key);
    else this.entries.set(key, { value, expires });
  }

  /** Sets the clock during restore. */
  restoreClock(clockMs: number): void {
    this.clockMs = clockMs;
  }
}
