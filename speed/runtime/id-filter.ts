/**
 * A Bloom filter of record ids in generations of ingest time, kept in a job's state (store.ts
 * checkpoints it: the ids added since the last checkpoint as a delta, all the bits in a snapshot).
 *
 * It answers "certainly never seen" or "maybe seen", so the first-seen index reads Cassandra only
 * for the ids it may hold — a re-sent record, or a false positive — instead of for every record.
 * Generations last `generationMs` of the state's clock; `generations` of them are kept, so an id is
 * remembered for at least (generations − 1) × generationMs. Memory is fixed: generations × bits / 8
 * bytes, whatever the volume (a filter holding more ids than it was sized for answers "maybe" more
 * often, which costs reads, never correctness).
 */
import { fnv1a32 } from '../../core/hash.js';
import type { StateExtension } from './store.js';

const HASHES = 7;

interface Generation {
  readonly index: number;
  readonly bits: Uint32Array;
}

/** Two independent 32-bit hashes of a key; positions are h1 + i·h2 (Kirsch–Mitzenmacher). */
function hashes(key: string): [number, number] {
  // h2 from another basis, so it is not a function of h1; odd, so the positions never collapse.
  return [fnv1a32(key), (fnv1a32(key, 0x9747b28c) | 1) >>> 0];
}

export interface IdFilterOptions {
  /** Bits per generation (rounded up to a multiple of 32). */
  readonly bits: number;
  readonly generationMs: number;
  readonly generations: number;
}

export class IdFilter implements StateExtension {
  private readonly words: number;
  private readonly bits: number;
  private live: Generation[] = [];
  /** Added since the last delta: generation index → pairs of hashes. */
  private added = new Map<number, number[]>();
  /**
   * Until the state's clock reaches this, the filter may lack ids added before it existed (state
   * written by a version without it): it answers "maybe" for everything.
   */
  private incompleteUntil: number | undefined = Number.POSITIVE_INFINITY;

  constructor(private readonly options: IdFilterOptions) {
    this.words = Math.max(1, Math.ceil(options.bits / 32));
    this.bits = this.words * 32;
  }

  /** Records `key` as seen at `clockMs` (the state's clock). */
  add(key: string, clockMs: number): void {
    const [h1, h2] = hashes(key);
    const index = Math.floor(clockMs / this.options.generationMs);
    this.set(this.generation(index), h1, h2);
    let list = this.added.get(index);
    if (list === undefined) {
      list = [];
      this.added.set(index, list);
    }
    list.push(h1, h2);
  }

  /** False when `key` was certainly never added (within the kept generations). */
  mightContain(key: string, clockMs: number): boolean {
    if (this.incompleteUntil !== undefined) {
      if (this.incompleteUntil === Number.POSITIVE_INFINITY)
        this.incompleteUntil = clockMs + this.options.generations * this.options.generationMs;
      if (clockMs < this.incompleteUntil) return true;
      this.incompleteUntil = undefined;
    }
    const [h1, h2] = hashes(key);
    return this.live.some((g) => this.test(g, h1, h2));
  }

  markComplete(): void {
    this.incompleteUntil = undefined;
  }

  private generation(index: number): Generation {
    let found = this.live.find((g) => g.index === index);
    if (found === undefined) {
      found = { index, bits: new Uint32Array(this.words) };
      this.live.push(found);
      this.live.sort((a, b) => b.index - a.index);
      // Only generations newer than the newest minus `generations` stay.
      const newest = this.live[0]?.index ?? index;
      this.live = this.live.filter((g) => g.index > newest - this.options.generations);
    }
    return found;
  }

  private set(g: Generation, h1: number, h2: number): void {
    for (let i = 0; i < HASHES; i += 1) {
      const bit = ((h1 + i * h2) % this.bits) >>> 0;
      const word = bit >>> 5;
      g.bits[word] = (g.bits[word] ?? 0) | (1 << (bit & 31));
    }
  }

  private test(g: Generation, h1: number, h2: number): boolean {
    for (let i = 0; i < HASHES; i += 1) {
      const bit = ((h1 + i * h2) % this.bits) >>> 0;
      if (((g.bits[bit >>> 5] ?? 0) & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  takeDelta(): string | undefined {
    if (this.added.size === 0) return undefined;
    const delta: Record<string, string> = {};
    for (const [index, pairs] of this.added)
      delta[String(index)] = Buffer.from(new Uint32Array(pairs).buffer).toString('base64');
    this.added = new Map();
    return JSON.stringify(delta);
  }

  snapshot(): string {
    this.added = new Map();
    const generations: Record<string, string> = {};
    for (const g of this.live) generations[String(g.index)] = Buffer.from(g.bits.buffer).toString('base64');
    const incomplete = this.incompleteUntil;
    const until = incomplete === undefined ? null : Number.isFinite(incomplete) ? incomplete : -1;
    return JSON.stringify({ bits: this.bits, generations, until });
  }

  applyDelta(payload: string): void {
    for (const [index, base64] of Object.entries(parseRecord(payload))) {
      const pairs = toWords(base64);
      const g = this.generation(Number(index));
      for (let i = 0; i + 1 < pairs.length; i += 2) this.set(g, pairs[i] ?? 0, pairs[i + 1] ?? 0);
    }
  }

  applySnapshot(payload: string): void {
    const parsed: unknown = JSON.parse(payload);
    this.live = [];
    if (typeof parsed !== 'object' || parsed === null) return;
    const { bits, generations, until } = parsed as { bits?: unknown; generations?: unknown; until?: unknown };
    // A snapshot of a filter of another size cannot be reused: start empty and incomplete.
    if (bits !== this.bits || typeof generations !== 'object' || generations === null) return;
    // null: complete; -1: incomplete, counting from the next lookup; else incomplete until then.
    this.incompleteUntil =
      until === null ? undefined : typeof until === 'number' && until >= 0 ? until : Number.POSITIVE_INFINITY;
    for (const [index, base64] of Object.entries(generations)) {
      if (typeof base64 !== 'string') continue;
      const words = toWords(base64);
      if (words.length === this.words) this.live.push({ index: Number(index), bits: words });
    }
    this.live.sort((a, b) => b.index - a.index);
  }
}

function parseRecord(payload: string): Record<string, string> {
  const parsed: unknown = JSON.parse(payload);
  const out: Record<string, string> = {};
  if (typeof parsed !== 'object' || parsed === null) return out;
  for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') out[key] = value;
  return out;
}

function toWords(base64: string): Uint32Array {
  const bytes = Buffer.from(base64, 'base64');
  const copy = new Uint8Array(bytes.length - (bytes.length % 4));
  copy.set(bytes.subarray(0, copy.length));
  return new Uint32Array(copy.buffer);
}
