import { describe, expect, it } from 'vitest';
import { JobMetrics } from '../../core/job-metrics.js';
import { hopBounds, parseLatencyBuckets } from '../../scripts/bench/hops.js';

/** What the supervisor's /metrics serves for these jobs' latencies (seconds). */
async function exposition(latencies: Record<string, number[]>): Promise<string> {
  const texts: string[] = [];
  for (const [job, seconds] of Object.entries(latencies)) {
    const metrics = new JobMetrics(job);
    for (const s of seconds) metrics.latency.observe(s);
    texts.push(await metrics.registry.metrics());
  }
  return texts.join('\n');
}

const times = (n: number, seconds: number): number[] => new Array<number>(n).fill(seconds);

describe("the bench's hop latencies from the jobs' histograms", () => {
  it('bounds each job p99 by the bucket where 99 % of the records since the first reading fell', async () => {
    const before = parseLatencyBuckets(await exposition({ validation: times(1000, 2) }));
    const after = parseLatencyBuckets(
      await exposition({
        // 1,000 slow records before the run, then 100 more: 98 fast, 2 slow.
        validation: [...times(1000, 2), ...times(98, 0.02), 0.3, 0.3],
        'usecase.velocity': [...times(99, 0.004), 0.2],
        delivery: [90],
      }),
    );
    const bounds = hopBounds(before, after, 0.99);
    expect(bounds).toEqual([
      { job: 'validation', bound: '≤ 500', records: 100 },
      { job: 'usecase.velocity', bound: '≤ 5', records: 100 },
      { job: 'delivery', bound: '> 60000', records: 1 },
    ]);
    expect(hopBounds(after, after, 0.99)).toEqual([]);
  });
});
