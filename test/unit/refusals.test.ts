import { describe, expect, it } from 'vitest';
import { membershipError, RefusalClock } from '../../speed/runtime/refusals.js';

/** An error as kafkajs raises it for a protocol error code (KafkaJSProtocolError carries `type`). */
function protocolError(type: string): Error {
  return Object.assign(new Error(`protocol error ${type}`), { type });
}

const refused = protocolError('UNKNOWN_MEMBER_ID');
const outage = new Error('Cassandra did not answer');

describe('membershipError', () => {
  it('finds a coordinator’s refusal in the error or its causes, and nothing else', () => {
    expect(membershipError(refused)).toBe(refused);
    const wrapped = new Error('commit failed', { cause: protocolError('ILLEGAL_GENERATION') });
    expect(membershipError(wrapped)?.message).toBe('protocol error ILLEGAL_GENERATION');
    const retried = Object.assign(new Error('retries exhausted'), {
      originalError: protocolError('REBALANCE_IN_PROGRESS'),
    });
    expect(membershipError(retried)?.message).toBe('protocol error REBALANCE_IN_PROGRESS');
    expect(membershipError(protocolError('REQUEST_TIMED_OUT'))).toBeUndefined();
    expect(membershipError(outage)).toBeUndefined();
    expect(membershipError('UNKNOWN_MEMBER_ID')).toBeUndefined();
  });
});

describe('RefusalClock', () => {
  const STUCK = 120_000;
  const GAP = 30_000;

  it('is stuck after refusals without a break for the whole stretch', () => {
    const clock = new RefusalClock(STUCK, GAP);
    let result = { refusedMs: 0, stuck: false };
    for (let t = 0; t <= STUCK; t += 10_000) result = clock.failed(refused, 1_000 + t);
    expect(result).toEqual({ refusedMs: STUCK, stuck: true });
  });

  it('is never stuck on failures that are not refusals, however long they last', () => {
    const clock = new RefusalClock(STUCK, GAP);
    for (let t = 0; t <= 10 * STUCK; t += 10_000)
      expect(clock.failed(outage, t)).toEqual({ refusedMs: 0, stuck: false });
    // An outage between refusals does not break their stretch, nor count as one.
    expect(clock.failed(refused, 0).refusedMs).toBe(0);
    expect(clock.failed(outage, 10_000).stuck).toBe(false);
    expect(clock.failed(refused, 25_000).refusedMs).toBe(25_000);
  });

  it('starts again after a checkpoint succeeds', () => {
    const clock = new RefusalClock(STUCK, GAP);
    for (let t = 0; t < STUCK; t += 10_000) clock.failed(refused, t);
    clock.succeeded();
    expect(clock.failed(refused, STUCK + 5_000)).toEqual({ refusedMs: 0, stuck: false });
    expect(clock.failed(refused, 2 * STUCK + 5_000 - 1).stuck).toBe(false);
  });

  it('starts again when refusals are further apart than the gap', () => {
    const clock = new RefusalClock(STUCK, GAP);
    clock.failed(refused, 0); // a rebalance long ago
    expect(clock.failed(refused, GAP)).toEqual({ refusedMs: GAP, stuck: false });
    expect(clock.failed(refused, 2 * GAP + 1)).toEqual({ refusedMs: 0, stuck: false });
    expect(clock.failed(refused, 10 * STUCK).refusedMs).toBe(0);
  });
});
