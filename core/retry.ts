/**
 * The one retrier: exponential backoff with full jitter, a deadline, and no retries of errors that are
 * not retriable (programmer errors, bad input). Only idempotent operations may be retried.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { isTributaryError } from './errors.js';

export interface RetryOptions {
  /** Attempts in all, including the first. */
  readonly attempts?: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly factor?: number;
  /** Decides whether a failure is worth another attempt; by default TributaryError.retriable. */
  readonly retriable?: (error: unknown) => boolean;
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  readonly signal?: AbortSignal;
  /** Pseudo-random source in [0, 1), for tests. */
  readonly random?: () => number;
}

export function defaultRetriable(error: unknown): boolean {
  return isTributaryError(error) ? error.retriable : false;
}

export function backoffDelay(attempt: number, options: RetryOptions = {}): number {
  const initial = options.initialDelayMs ?? 100;
  const max = options.maxDelayMs ?? 5_000;
  const factor = options.factor ?? 2;
  const ceiling = Math.min(max, initial * factor ** (attempt - 1));
  return Math.round(ceiling * (options.random ?? Math.random)());
}

export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const retriable = options.retriable ?? defaultRetriable;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= attempts || !retriable(error) || options.signal?.aborted === true) throw error;
      const wait = backoffDelay(attempt, options);
      options.onRetry?.(error, attempt, wait);
      await delay(wait, undefined, options.signal ? { signal: options.signal } : undefined);
    }
  }
}
