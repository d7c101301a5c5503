/** `tributary generate`: the generated stream into a sink, at a target rate or as fast as possible. */
import { setTimeout as delay } from 'node:timers/promises';
import { generateStream, type GenerateOptions } from './model.js';
import type { Sink } from './sinks.js';

export interface GenerateSummary {
  /** Everything sent: records (with duplicates) and bad messages. */
  readonly sent: number;
  /** Records the platform must accept (duplicates included: they are valid messages). */
  readonly valid: number;
  readonly duplicates: number;
  /** Messages the platform must refuse (dead-lettered, or rejected by the gateway). */
  readonly bad: number;
  readonly durationMs: number;
}

export interface RunOptions {
  /** Records per second; 0 = as fast as possible. */
  readonly rate: number;
  readonly onProgress?: (sent: number) => void;
}

export async function runGenerator(
  model: GenerateOptions,
  sink: Sink,
  run: RunOptions,
): Promise<GenerateSummary> {
  const began = performance.now();
  let sent = 0;
  let valid = 0;
  let duplicates = 0;
  let bad = 0;
  for (const item of generateStream(model)) {
    if (run.rate > 0) {
      const due = began + (sent * 1000) / run.rate;
      const wait = due - performance.now();
      if (wait > 5) {
        await sink.flush();
        await delay(wait);
      }
    }
    await sink.add(item);
    sent += 1;
    if (item.kind === 'bad') bad += 1;
    else {
      valid += 1;
      if (item.duplicate) duplicates += 1;
    }
    if (sent % 1_000 === 0) run.onProgress?.(sent);
  }
  await sink.flush();
  run.onProgress?.(sent);
  return { sent, valid, duplicates, bad, durationMs: performance.now() - began };
}
