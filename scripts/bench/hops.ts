/**
 * Where along the diamond a latency run's time goes, from each job's own latency histogram
 * (`tributary_job_latency_seconds`: from the record's timestamp, its append to `records`, which every hop keeps, to the
 * job committing its outputs) on the supervisor's `/metrics`. Reading the jobs' histograms costs
 * nothing while the run goes on; consuming `records.valid` to time its hop cost the bench ~23 % of a
 * core at 2,000 records/s (an eachMessage consumer fetching ~140 times a second), on a machine the run
 * already fills.
 */

/** Per job, the cumulative count of each histogram bucket (upper bound in seconds → count). */
export type LatencyBuckets = Map<string, Map<number, number>>;

const BUCKET = /^tributary_job_latency_seconds_bucket\{([^}]*)\}\s+(\S+)$/;

/** The jobs' latency buckets as the supervisor at `url` serves them now. */
export async function latencyBuckets(url: string): Promise<LatencyBuckets> {
  return parseLatencyBuckets(await (await fetch(`${url}/metrics`)).text());
}

/** The latency buckets in a Prometheus text exposition. */
export function parseLatencyBuckets(text: string): LatencyBuckets {
  const buckets: LatencyBuckets = new Map();
  for (const line of text.split('\n')) {
    const match = BUCKET.exec(line);
    if (match === null) continue;
    const labels = new Map(
      [...(match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1] ?? '', l[2] ?? '']),
    );
    const job = labels.get('job');
    const le = labels.get('le');
    if (job === undefined || le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    const counts = buckets.get(job) ?? new Map<number, number>();
    counts.set(bound, (counts.get(bound) ?? 0) + Number(match[2]));
    buckets.set(job, counts);
  }
  return buckets;
}

/**
 * Per job, the bucket bound (ms) under which `quantile` of the records it handled between two
 * readings fell: "validation ≤ 250". A histogram only bounds a percentile; the bounds are 5, 10, 25,
 * 50, 100, 250, 500 ms, 1 s … 60 s
 */
export function hopBounds(
  before: LatencyBuckets,
  after: LatencyBuckets,
  quantile: number,
): { job: string; bound: string; records: number }[] {
  const out: { job: string; bound: string; records: number }[] = [];
  for (const [job, counts] of after) {
    const earlier = before.get(job);
    const delta = [...counts]
      .map(([bound, count]) => [bound, count - (earlier?.get(bound) ?? 0)] as const)
      .sort((a, b) => a[0] - b[0]);
    const records = delta.at(-1)?.[1] ?? 0;
    if (records === 0) continue;
    const [bound] = delta.find(([, cumulative]) => cumulative >= quantile * records) ?? [Infinity];
    out.push({
      job,
      bound: Number.isFinite(bound)
        ? `≤ ${Math.round(bound * 1000)}`
        : `> ${Math.round((delta.at(-2)?.[0] ?? 0) * 1000)}`,
      records,
    });
  }
  return out;
}
