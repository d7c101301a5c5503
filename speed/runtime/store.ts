/**
 * Durable job state without Kafka transactions: a chain of checkpoints per input partition in the
 * job's state topic, anchored by the consumer group's committed offsets.
 *
 * A checkpoint of partition p is one node — the changes since the previous node (a delta) or the
 * whole state (a snapshot), with the input offset it covers (`through`), the upstream offset the
 * job's input had reached (`source`, for dropping upstream replays) and the state's clock — written
 * as chunk messages followed by an end message whose `prev` is the offset of the previous node's end.
 * Only once the node is acknowledged is the input offset `through + 1` committed, with the node's
 * offset as the commit's metadata: the *anchor*. Restoring reads the partition of the state topic up
 * to the anchor and applies the chain that leads to it, from its last snapshot.
 *
 * So a crash anywhere leaves the state exactly as of the committed offset: a node written but not
 * anchored is ignored (its records are replayed, and their outputs — deterministic — are dropped
 * downstream as duplicates), and a zombie instance's nodes are never anchored, because the group
 * coordinator refuses its commits once the partition has another owner. After a snapshot is
 * anchored, the partition is truncated before it, so the topic stays small.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { TributaryError } from '../../core/errors.js';
import { chunkTopicMessages, type Admin, type Kafka, type OutputProducer } from '../../core/kafka/index.js';
import type { Logger } from '../../core/logger.js';
import { KeyedState, type Change } from './state.js';
import { readPartitions } from './state-reader.js';

/** A chunk message carries at most this much of a node's changes. */
const CHUNK_BYTES = 256 * 1024;

const ChangeSchema = z.tuple([z.string(), z.json().nullable(), z.number().nullable()]);
const ChunkSchema = z.object({ t: z.literal('c'), id: z.string(), e: z.array(ChangeSchema) });
/** A piece of an extension's payload (payloads are split to fit in messages). */
const PieceSchema = z.object({ t: z.literal('x'), id: z.string(), n: z.string(), p: z.string() });

/**
 * State that is not key/value entries (a Bloom filter): checkpointed as what changed since the last
 * checkpoint, or whole in a snapshot, and rebuilt from those on restore.
 */
export interface StateExtension {
  /** What changed since the last call or snapshot, or undefined if nothing did. */
  takeDelta(): string | undefined;
  snapshot(): string;
  applyDelta(payload: string): void;
  applySnapshot(payload: string): void;
  /**
   * The restore sees all of this extension's history: the partition has no checkpoint yet, or its
   * chain starts at its first node. (A snapshot carries its own account.) Not called when the chain
   * was written by a version of the job without the extension.
   */
  markComplete(): void;
}

/** Makes a partition's (empty) extensions, by name; called for every partition a store holds. */
export type ExtensionFactory = (partition: number) => ReadonlyMap<string, StateExtension>;
const EndSchema = z.object({
  t: z.enum(['d', 's']),
  id: z.string(),
  prev: z.string(),
  through: z.string(),
  source: z.string(),
  clock: z.number(),
  e: z.array(ChangeSchema),
});
type EndNode = z.infer<typeof EndSchema>;

export interface Committed {
  /** The committed offset (-1 = none) and its metadata. */
  readonly offset: bigint;
  readonly metadata: string | null;
}

export interface CommitRequest {
  readonly partition: number;
  readonly offset: string;
  readonly metadata: string;
}

/** One input partition's state and where it stands. */
export class PartitionStore {
  readonly state = new KeyedState();
  readonly extensions: ReadonlyMap<string, StateExtension>;
  /** The last input offset whose effects are in `state` (-1 = none). */
  through = -1n;
  /** The largest upstream offset (the input's `tributary.offset` header) applied (-1 = none). */
  source = -1n;
  /** Offset of the last node written, and of the last one anchored by a commit. */
  tip = -1n;
  anchored = -1n;
  /** `through` as of the last checkpoint. */
  checkpointed = -1n;
  bytesSinceSnapshot = 0;
  lastSnapshotBytes = 0;

  constructor(
    readonly partition: number,
    extensions: ExtensionFactory = () => new Map(),
  ) {
    this.extensions = extensions(partition);
  }

  /** True when it holds input or state changes its last checkpoint does not cover. */
  get moved(): boolean {
    return this.through !== this.checkpointed || this.state.changed;
  }
}

export interface StateStoreOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly producer: OutputProducer;
  readonly logger: Logger;
  /** A snapshot replaces the chain once its deltas exceed max(this, twice the last snapshot). */
  readonly snapshotBytes?: number;
  readonly extensions?: ExtensionFactory;
}

export const ANCHOR_PREFIX = 'tributary-state@';

export function anchorOf(metadata: string | null): bigint | undefined {
  if (metadata === null || !metadata.startsWith(ANCHOR_PREFIX)) return undefined;
  const offset = metadata.slice(ANCHOR_PREFIX.length);
  return /^\d+$/.test(offset) ? BigInt(offset) : undefined;
}

export class StateStore {
  private partitions = new Map<number, PartitionStore>();
  private admin: Promise<Admin> | undefined;
  /** Changes whenever the partitions are replaced (restore): work begun before must not land. */
  epoch = 0;

  constructor(private readonly options: StateStoreOptions) {}

  get(partition: number): PartitionStore {
    let store = this.partitions.get(partition);
    if (store === undefined) {
      store = new PartitionStore(partition, this.options.extensions);
      this.partitions.set(partition, store);
    }
    return store;
  }

  all(): PartitionStore[] {
    return [...this.partitions.values()];
  }

  /** Replaces the state of these partitions with what their committed offsets anchor. */
  async restore(committed: ReadonlyMap<number, Committed>): Promise<void> {
    this.epoch += 1;
    const anchors = new Map<number, bigint>();
    for (const [partition, c] of committed) {
      const anchor = anchorOf(c.metadata);
      if (anchor !== undefined) anchors.set(partition, anchor);
    }
    const messages = await readPartitions(this.options.kafka, this.options.topic, anchors);
    const restored = new Map<number, PartitionStore>();
    for (const [partition, c] of committed) {
      const store = new PartitionStore(partition, this.options.extensions);
      const anchor = anchors.get(partition);
      if (anchor === undefined) {
        // Never checkpointed: empty state, starting wherever the group was positioned.
        store.through = c.offset >= 0n ? c.offset - 1n : -1n;
        for (const extension of store.extensions.values()) extension.markComplete();
      } else {
        applyChain(this.options.topic, store, messages.get(partition) ?? [], anchor, c.offset);
      }
      store.checkpointed = store.through;
      restored.set(partition, store);
    }
    this.partitions = restored;
  }

  /**
   * Writes a node for every partition that moved since its last checkpoint and for which `eligible`
   * says no batch is in flight, then commits their offsets anchored at those nodes (`commit` may
   * first wait for side effects the nodes cover). Checkpoints must not overlap: each node names the
   * previous one.
   */
  async checkpoint(
    eligible: (partition: number) => boolean,
    commit: (requests: readonly CommitRequest[]) => Promise<void>,
  ): Promise<void> {
    // Everything a node holds is taken now, synchronously: batches may go on while it is sent.
    const nodes: { store: PartitionStore; snapshot: boolean; messages: string[]; through: bigint }[] = [];
    for (const store of this.partitions.values()) {
      if (!eligible(store.partition)) continue;
      if (!store.moved) continue;
      store.state.sweep();
      const snapshot =
        store.bytesSinceSnapshot >
        Math.max(this.options.snapshotBytes ?? 4 * 1024 * 1024, 2 * store.lastSnapshotBytes);
      const changes = snapshot ? store.state.takeAll() : store.state.takeChanges();
      const messages = encodeNode(store, snapshot, changes);
      nodes.push({ store, snapshot, messages, through: store.through });
    }
    if (nodes.length === 0) return;
    const topic = this.options.topic;
    const outputs = nodes.map(({ store, messages }) => ({
      topic,
      messages: messages.map((value) => ({ key: null, value, partition: store.partition })),
    }));
    // Offsets of each node's first and last message, from the base offset of each request.
    const first = new Map<number, bigint>();
    const last = new Map<number, bigint>();
    for (const request of chunkTopicMessages(outputs)) {
      const counts = new Map<number, number>();
      for (const { messages } of request)
        for (const m of messages) counts.set(m.partition ?? -1, (counts.get(m.partition ?? -1) ?? 0) + 1);
      for (const meta of await this.options.producer.sendRequest(request)) {
        const base = BigInt(meta.baseOffset ?? '-1');
        const count = counts.get(meta.partition) ?? 0;
        if (base < 0n || count === 0) continue;
        if (!first.has(meta.partition)) first.set(meta.partition, base);
        last.set(meta.partition, base + BigInt(count) - 1n);
      }
    }
    const requests: CommitRequest[] = [];
    for (const { store, snapshot, messages, through } of nodes) {
      const end = last.get(store.partition);
      if (end === undefined) throw new Error(`no offset for the checkpoint of ${topic}/${store.partition}`);
      store.tip = end;
      store.checkpointed = through;
      const bytes = messages.reduce((n, m) => n + m.length, 0);
      if (snapshot) {
        store.bytesSinceSnapshot = 0;
        store.lastSnapshotBytes = bytes;
      } else store.bytesSinceSnapshot += bytes;
      requests.push({
        partition: store.partition,
        offset: (through + 1n).toString(),
        metadata: `${ANCHOR_PREFIX}${end}`,
      });
    }
    await commit(requests);
    for (const { store, snapshot } of nodes) {
      store.anchored = store.tip;
      const from = first.get(store.partition);
      if (snapshot && from !== undefined) this.truncate(store.partition, from);
    }
  }

  /** Drops everything before an anchored snapshot (best effort: a failure only leaves it longer). */
  private truncate(partition: number, before: bigint): void {
    this.admin ??= (async () => {
      const admin = this.options.kafka.admin();
      await admin.connect();
      // deleteTopicRecords finds the leaders in the admin's metadata: load the topic's first.
      await admin.fetchTopicMetadata({ topics: [this.options.topic] });
      return admin;
    })();
    this.admin.catch(() => {
      this.admin = undefined; // try again at the next snapshot
    });
    void this.admin
      .then((admin) =>
        admin.deleteTopicRecords({
          topic: this.options.topic,
          partitions: [{ partition, offset: before.toString() }],
        }),
      )
      .catch((error: unknown) => {
        this.options.logger.warn({ err: error, partition }, 'could not truncate the state topic');
      });
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    if (admin !== undefined) await (await admin.catch(() => undefined))?.disconnect();
  }
}

/**
 * Rebuilds a partition's state from its state-topic messages: the chain of nodes that ends at the
 * anchor, from its last snapshot (or its first node). Nodes off the chain (not anchored, or a zombie's)
 * and chunks of other nodes are ignored.
 */
export function applyChain(
  topic: string,
  store: PartitionStore,
  messages: readonly { offset: bigint; value: Buffer | null }[],
  anchor: bigint,
  committed: bigint,
): void {
  const ends = new Map<bigint, { node: EndNode; bytes: number }>();
  const chunks = new Map<string, { parts: Change[][]; bytes: number }>();
  const pieces = new Map<string, Map<string, string[]>>();
  for (const { offset, value } of messages) {
    if (value === null) continue;
    const json: unknown = JSON.parse(value.toString('utf8'));
    const piece = PieceSchema.safeParse(json);
    if (piece.success) {
      const byName = pieces.get(piece.data.id) ?? new Map<string, string[]>();
      byName.set(piece.data.n, [...(byName.get(piece.data.n) ?? []), piece.data.p]);
      pieces.set(piece.data.id, byName);
      const entry = chunks.get(piece.data.id) ?? { parts: [], bytes: 0 };
      entry.bytes += value.length;
      chunks.set(piece.data.id, entry);
      continue;
    }
    const chunk = ChunkSchema.safeParse(json);
    if (chunk.success) {
      const entry = chunks.get(chunk.data.id) ?? { parts: [], bytes: 0 };
      entry.parts.push(chunk.data.e);
      entry.bytes += value.length;
      chunks.set(chunk.data.id, entry);
      continue;
    }
    const end = EndSchema.safeParse(json);
    if (end.success) ends.set(offset, { node: end.data, bytes: value.length });
  }
  const chain: { node: EndNode; bytes: number; offset: bigint }[] = [];
  for (let at = anchor; at >= 0n;) {
    const found = ends.get(at);
    if (found === undefined)
      throw new TributaryError(
        'STATE_CORRUPT',
        `${topic}/${store.partition}: the checkpoint at ${at} is missing (the state topic was truncated or deleted)`,
      );
    chain.push({ ...found, offset: at });
    if (found.node.t === 's') break;
    at = BigInt(found.node.prev);
  }
  chain.reverse();
  // From the partition's very first node, every extension saw its whole history.
  const fromStart = chain[0]?.node.t === 'd' && BigInt(chain[0].node.prev) < 0n;
  if (fromStart) for (const extension of store.extensions.values()) extension.markComplete();
  for (const { node, bytes } of chain) {
    const parts = chunks.get(node.id);
    const size = bytes + (parts?.bytes ?? 0);
    if (node.t === 's') store.lastSnapshotBytes = size;
    else store.bytesSinceSnapshot += size;
    for (const part of parts?.parts ?? []) for (const change of part) store.state.apply(change);
    for (const change of node.e as Change[]) store.state.apply(change);
    for (const [name, list] of pieces.get(node.id) ?? []) {
      const extension = store.extensions.get(name);
      if (extension === undefined) continue; // state of an extension this job no longer has
      if (node.t === 's') extension.applySnapshot(list.join(''));
      else extension.applyDelta(list.join(''));
    }
  }
  const last = chain[chain.length - 1]?.node;
  if (last === undefined) return;
  store.through = BigInt(last.through);
  store.source = BigInt(last.source);
  store.state.restoreClock(last.clock);
  store.tip = anchor;
  store.anchored = anchor;
  if (store.through + 1n !== committed)
    throw new TributaryError(
      'STATE_CORRUPT',
      `${topic}/${store.partition}: checkpoint covers offsets through ${store.through} but ${committed} is committed`,
    );
}

/**
 * A change as JSON. A value that is not JSON (a bigint, a cycle) could never be checkpointed: the
 * job would restore and replay forever, so it is told apart from a failure worth retrying.
 */
function changeJson(change: Change): string {
  try {
    return JSON.stringify(change);
  } catch (error) {
    throw new TributaryError(
      'STATE_UNSERIALIZABLE',
      `state key ${JSON.stringify(change[0])} holds a value that is not JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

/** A node's messages: chunks of changes (if they do not fit in one message) and the end message. */
export function encodeNode(store: PartitionStore, snapshot: boolean, changes: readonly Change[]): string[] {
  const id = randomUUID();
  const messages: string[] = [];
  let part: string[] = [];
  let bytes = 0;
  for (const change of changes) {
    const json = changeJson(change);
    if (bytes + json.length > CHUNK_BYTES && part.length > 0) {
      messages.push(`{"t":"c","id":"${id}","e":[${part.join(',')}]}`);
      part = [];
      bytes = 0;
    }
    part.push(json);
    bytes += json.length + 1;
  }
  const head = {
    t: snapshot ? 's' : 'd',
    id,
    prev: store.tip.toString(),
    through: store.through.toString(),
    source: store.source.toString(),
    clock: store.state.clock,
  };
  for (const [name, extension] of store.extensions) {
    const payload = snapshot ? extension.snapshot() : extension.takeDelta();
    if (payload === undefined) continue;
    for (let at = 0; at < payload.length || at === 0; at += CHUNK_BYTES)
      messages.push(JSON.stringify({ t: 'x', id, n: name, p: payload.slice(at, at + CHUNK_BYTES) }));
  }
  const headJson = JSON.stringify(head);
  messages.push(`${headJson.slice(0, -1)},"e":[${part.join(',')}]}`);
  return messages;
}
