import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../core/errors.js';
import { backoffDelay, retry } from '../../core/retry.js';

describe('retry', () => {
  it('retries retriable errors until the operation succeeds', async () => {
    let calls = 0;
    const value = await retry(
      () => {
        calls += 1;
        if (calls < 3) return Promise.reject(new TributaryError('UNAVAILABLE', 'busy', { retriable: true }));
        return Promise.resolve('ok');
      },
      { initialDelayMs: 1 },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
  });

  it('never retries an error that is not retriable', async () => {
    let calls = 0;
    await expect(
      retry(() => {
        calls += 1;
        return Promise.reject(new TypeError('programmer error'));
      }),
    ).rejects.toThrow('programmer error');
    expect(calls).toBe(1);
  });

  it('gives up after the configured attempts with the last error', async () => {
    let calls = 0;
    await expect(
      retry(
        () => {
          calls += 1;
          return Promise.reject(new TributaryError('UNAVAILABLE', `attempt ${calls}`, { retriable: true }));
        },
        { attempts: 4, initialDelayMs: 1 },
      ),
    ).rejects.toThrow('attempt 4');
    expect(calls).toBe(4);
  });

  it('backs off exponentially with full jitter under a ceiling', () => {
    const max = { random: () => 0.999999, initialDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, max)).toBe(100);
    expect(backoffDelay(3, max)).toBe(400);
    expect(backoffDelay(10, max)).toBe(1000);
    expect(backoffDelay(5, { random: () => 0 })).toBe(0);
  });
});
