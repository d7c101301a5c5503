/**
 * The checkpoint chain of a job's state (speed/runtime/store.ts), without a broker: nodes encoded as
 * the store writes them into an in-memory "partition", then restored from an anchor. The restore must
 * follow exactly the chain that leads to the anchor — ignoring a node written after it, a zombie's
 * fork and chunks of other nodes — and stop at the last snapshot.
 */
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../core/errors.js';
import { applyChain, encodeNode, PartitionStore } from '../../speed/runtime/store.js';

class Log {
  readonly messages: { offset: bigint; value: Buffer }[] = [];

  append(values: readonly string[]): { first: bigint; last: bigint } {
    const first = BigInt(this.messages.length);
    for (const value of values)
      this.messages.push({ offset: BigInt(this.messages.length), value: Buffer.from(value) });
    return { first, last: BigInt(this.messages.length - 1) };
  }
}

/** Writes a node of the writer's state into the log, as a checkpoint does. */
function checkpoint(log: Log, writer: PartitionStore, snapshot = false): { first: bigint; last: bigint } {
  const changes = snapshot ? writer.state.takeAll() : writer.state.takeChanges();
  const at = log.append(encodeNode(writer, snapshot, changes));
  writer.tip = at.last;
  return at;
}

function set(writer: PartitionStore, key: string, value: string | null, through: bigint): void {
  if (value === null) writer.state.delete(key);
  else writer.state.set(key, value);
  writer.state.commitRecord();
  writer.state.advanceClock(Number(through) * 1000);
  writer.through = through;
}

function restore(log: Log, anchor: bigint, committed: bigint, from = 0n): PartitionStore {
  const store = new PartitionStore(0);
  applyChain(
    'state',
    store,
    log.messages.filter((m) => m.offset >= from),
    anchor,
    committed,
  );
  return store;
}

describe('state checkpoint chain', () => {
  it('restores exactly the chain that ends at the anchor', () => {
    const log = new Log();
    const writer = new PartitionStore(0);
    set(writer, 'a', '1', 9n);
    set(writer, 'b', '2', 9n);
    const one = checkpoint(log, writer);

    // A zombie (the partition's previous owner, not yet aware) forks from the same node.
    const zombie = new PartitionStore(0);
    zombie.tip = one.last;
    set(zombie, 'a', 'zombie', 12n);
    set(zombie, 'z', 'zombie', 12n);
    checkpoint(log, zombie);

    // A node big enough to be split into chunks, with a zombie chunk in between.
    for (let i = 0; i < 3_000; i += 1) set(writer, `k${i}`, 'v'.repeat(200), 19n);
    set(writer, 'a', '3', 19n);
    const twoChanges = encodeNode(writer, false, writer.state.takeChanges());
    expect(twoChanges.length).toBeGreaterThan(2);
    log.append(twoChanges.slice(0, 1));
    const zombieChanges = Array.from({ length: 1_500 }, (_, i) => [`k${i}`, 'z'.repeat(200), null] as const);
    const zombieChunk = encodeNode(zombie, false, zombieChanges).slice(0, 1);
    expect(zombieChunk[0]).toMatch(/^\{"t":"c"/);
    log.append(zombieChunk);
    const two = log.append(twoChanges.slice(1));
    writer.tip = two.last;

    // Written after the last commit (the process died before committing it).
    set(writer, 'b', null, 29n);
    const three = checkpoint(log, writer);

    const atTwo = restore(log, two.last, 20n);
    expect(atTwo.state.get('a')).toBe('3');
    expect(atTwo.state.get('b')).toBe('2');
    expect(atTwo.state.get('z')).toBeUndefined();
    expect(atTwo.state.get('k0')).toBe('v'.repeat(200));
    expect(atTwo.state.get('k2999')).toBe('v'.repeat(200));
    expect(atTwo.state.size).toBe(3_002);
    expect(atTwo.through).toBe(19n);
    expect(atTwo.state.clock).toBe(19_000);
    expect(atTwo.tip).toBe(two.last);

    const atThree = restore(log, three.last, 30n);
    expect(atThree.state.get('b')).toBeUndefined();
    expect(atThree.through).toBe(29n);
  });

  it('stops at the last snapshot, so what came before it can be truncated', () => {
    const log = new Log();
    const writer = new PartitionStore(0);
    set(writer, 'a', '1', 4n);
    set(writer, 'gone', 'x', 4n);
    checkpoint(log, writer);
    set(writer, 'gone', null, 9n);
    checkpoint(log, writer);
    set(writer, 'b', '2', 14n);
    const snapshot = checkpoint(log, writer, true);
    set(writer, 'c', '3', 19n);
    const after = checkpoint(log, writer);

    const restored = restore(log, after.last, 20n, snapshot.first);
    expect([...['a', 'b', 'c', 'gone'].map((k) => restored.state.get(k))]).toEqual([
      '1',
      '2',
      '3',
      undefined,
    ]);
    expect(restored.through).toBe(19n);
  });

  it('refuses a chain with a missing node, or one that does not match the committed offset', () => {
    const log = new Log();
    const writer = new PartitionStore(0);
    set(writer, 'a', '1', 4n);
    const one = checkpoint(log, writer);
    set(writer, 'a', '2', 9n);
    const two = checkpoint(log, writer);
    expect(() => restore(log, two.last, 10n, one.last + 1n)).toThrow(TributaryError);
    expect(() => restore(log, two.last, 8n)).toThrow(/covers offsets through 9 but 8 is committed/);
  });
});
