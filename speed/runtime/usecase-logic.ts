/**
 * Runs a use case as a job: decodes `records.valid` into the current record version, gives the use
 * case its context (state, settings, profile), and turns its drafts into findings with deterministic
 * ids on the `findings` topic. Exceptions in use-case code are the runtime's to handle (job.ts).
 */
import { findingId, type Finding } from '../../core/finding.js';
import type { PgPool } from '../../core/postgres/index.js';
import type { TributaryRecord } from '../../core/record.js';
import { resentOf } from '../../ingest/validation/headers.js';
import { RecordDeserializer, type SchemaSource } from '../../ingest/serde/index.js';
import { encodeFinding } from '../findings.js';
import type { UseCase } from '../usecases/index.js';
import { Rejection, type Emitter, type InputMessage, type JobLogic } from './logic.js';
import type { JobMetrics } from '../../core/job-metrics.js';
import { addToProfile, NO_BATCH_PROFILES, profileReader, type BatchProfiles } from './profile.js';
import { SettingsCache } from './settings.js';
import type { KeyedState } from './state.js';

export interface UseCaseLogicOptions {
  readonly useCase: UseCase;
  readonly variant: string;
  readonly registry: SchemaSource;
  readonly pool: PgPool;
  readonly findingsTopic: string;
  readonly metrics?: JobMetrics;
  readonly batchProfiles?: BatchProfiles;
  /** The deployment's settings: defaults under each customer's own settings. */
  readonly defaults?: Readonly<Record<string, unknown>>;
}

export class UseCaseLogic implements JobLogic<TributaryRecord> {
  private readonly deserializer: RecordDeserializer;
  private readonly settings: SettingsCache;
  /** The deployment's defaults under each customer's settings, merged once per settings load. */
  private readonly merged = new Map<
    string,
    { from: Readonly<Record<string, unknown>>; settings: Readonly<Record<string, unknown>> }
  >();

  constructor(private readonly options: UseCaseLogicOptions) {
    this.deserializer = new RecordDeserializer({ registry: options.registry, validated: true });
    this.settings = new SettingsCache(options.pool);
  }

  async prepare(inputs: readonly InputMessage[]): Promise<void> {
    await this.deserializer.prepare(inputs.map((i) => i.message.value));
    const customers = new Set<string>();
    for (const input of inputs) if (input.message.key !== null) customers.add(input.message.key.toString());
    await this.settings.load(customers);
  }

  decode(input: InputMessage): TributaryRecord {
    const decoded = this.deserializer.decode(input.message.value, input.message.key);
    if (!decoded.ok) throw new Rejection(decoded.code, decoded.reason);
    return decoded.record;
  }

  private settingsFor(customerId: string): Readonly<Record<string, unknown>> {
    const own = this.settings.get(customerId);
    const cached = this.merged.get(customerId);
    if (cached !== undefined && cached.from === own) return cached.settings;
    const settings = { ...this.options.defaults, ...own };
    if (this.merged.size >= 100_000) this.merged.clear();
    this.merged.set(customerId, { from: own, settings });
    return settings;
  }

  handle(record: TributaryRecord, input: InputMessage, state: KeyedState, emit: Emitter): void {
    const { useCase, variant } = this.options;
    // Validation decided it, once for every job (ingest/validation/logic.ts).
    const duplicate = resentOf(input.message.headers) !== undefined;
    const drafts = useCase.process(record, {
      duplicate,
      variant,
      state,
      settings: this.settingsFor(record.customer_id),
      profile: profileReader(state, this.options.batchProfiles ?? NO_BATCH_PROFILES, record),
      ingestTimeMs: input.timestampMs,
    });
    // A re-sent record is one record: the master dataset stores it once, the batch layer counts it once.
    if (useCase.needsProfile && !duplicate) addToProfile(state, record);
    for (const draft of drafts) {
      const finding: Finding = {
        findingId: findingId(useCase.name, variant, record.customer_id, [...draft.recordIds, draft.code]),
        usecase: useCase.name,
        variant,
        customerId: record.customer_id,
        code: draft.code,
        recordIds: draft.recordIds,
        eventTime: record.event_time,
        detail: draft.detail ?? {},
      };
      emit.emit({
        topic: this.options.findingsTopic,
        key: record.customer_id,
        value: encodeFinding(finding),
        timestamp: input.message.timestamp,
      });
      this.options.metrics?.findings.inc({ code: draft.code });
    }
  }
}
