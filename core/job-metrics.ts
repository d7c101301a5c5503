/** Per-job measurements, in a prom-client registry labelled with the job's name. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Consumer } from './kafka/index.js';

export class JobMetrics {
  readonly registry = new Registry();
  readonly recordsIn: Counter;
  readonly recordsOut: Counter;
  readonly findings: Counter;
  readonly deadLetters: Counter;
  readonly duplicatesDropped: Counter;
  readonly latency: Histogram;
  readonly lag: Gauge;
  readonly stateEntries: Gauge;
  readonly cpuSeconds: Gauge;
  readonly rssBytes: Gauge;
  readonly heapBytes: Gauge;
  private lastCpu = process.cpuUsage();
  private cpuTotal = 0;

  constructor(job: string) {
    this.registry.setDefaultLabels({ job });
    const registers = [this.registry];
    this.recordsIn = new Counter({
      name: 'tributary_job_records_in_total',
      help: 'input messages processed',
      registers,
    });
    this.recordsOut = new Counter({
      name: 'tributary_job_records_out_total',
      help: 'messages produced (outputs, not dead letters)',
      registers,
    });
    this.findings = new Counter({
      name: 'tributary_job_findings_total',
      help: 'findings emitted',
      labelNames: ['code'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'tributary_job_dead_letters_total',
      help: 'messages sent to the dead-letter topic',
      labelNames: ['code'],
      registers,
    });
    this.duplicatesDropped = new Counter({
      name: 'tributary_job_upstream_duplicates_total',
      help: 'input messages dropped because upstream sent them again (a replay after its restart)',
      registers,
    });
    this.latency = new Histogram({
      name: 'tributary_job_latency_seconds',
      help: 'from the record entering the platform (records topic timestamp) to this job committing its outputs',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.lag = new Gauge({
      name: 'tributary_job_consumer_lag',
      help: 'messages behind the end of the input partition',
      labelNames: ['partition'],
      registers,
    });
    this.stateEntries = new Gauge({
      name: 'tributary_job_state_entries',
      help: 'keys in the job state',
      registers,
    });
    this.cpuSeconds = new Gauge({
      name: 'tributary_job_cpu_seconds_total',
      help: 'CPU time of the job process',
      registers,
    });
    this.rssBytes = new Gauge({
      name: 'tributary_job_resident_memory_bytes',
      help: 'resident memory of the job process',
      registers,
    });
    this.heapBytes = new Gauge({
      name: 'tributary_job_heap_used_bytes',
      help: 'V8 heap used by the job process',
      registers,
    });
  }

  /**
   * Keeps the lag gauge true while a batch is processed: a job sets it after each batch (what is left
   * then), and this sets it when a batch starts, counting the batch itself. Set only after a batch, it
   * read 0 through a long batch that followed an idle spell — "caught up" while far behind.
   */
  followLag(consumer: Consumer): void {
    consumer.on(consumer.events.START_BATCH_PROCESS, (event) => {
      const { batchSize, partition, offsetLagLow } = event.payload;
      if (batchSize > 0) this.lag.set({ partition: String(partition) }, Number(offsetLagLow) + 1);
    });
  }

  /** Samples this process's CPU and memory (each job runs in its own process). */
  sampleProcess(): void {
    const now = process.cpuUsage();
    this.cpuTotal += (now.user - this.lastCpu.user + now.system - this.lastCpu.system) / 1e6;
    this.lastCpu = now;
    this.cpuSeconds.set(this.cpuTotal);
    const memory = process.memoryUsage();
    this.rssBytes.set(memory.rss);
    this.heapBytes.set(memory.heapUsed);
  }
}
