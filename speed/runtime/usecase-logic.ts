/**
 * Runs a use case as a job: decodes `records.valid` into the current record version, gives the use
 * case its context (state, settings, profile), and turns its drafts into findings with deterministic
 * ids on the `findings` topic. Exceptions in use-case code are the runtime's to handle (job.ts).
 */
import { findingId, type Finding } from '../../core/finding.js';
import type { PgPool } from '../../core/postgres/index.js';
import type { TributaryRecord } from '../../core/record.js';
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

  constructor(private readonly options: UseCaseLogicOptions) {
    this.deserializer = new RecordDeserializer({ registry: options.registry });
    this.settings = new SettingsCache(options.pool);
  }

  async prepare(inputs: readonly InputMessage[]): Promise<void> {
    await this.deserializer.prepare(inputs.map((i) => i.message.value));
    await this.settings.load(
      inputs.flatMap((i) => (i.message.key === null ? [] : [i.message.key.toString()])),
    );
  }

  decode(input: InputMessage): TributaryRecord {
    const decoded = this.deserializer.decode(input.message.value, input.message.key);
    if (!decoded.ok) throw new Rejection(decoded.code, decoded.reason);
    return decoded.record;
  }

  handle(record: TributaryRecord, input: InputMessage, state: KeyedState, emit: Emitter): void {
    const { useCase, variant } = this.options;
    const drafts = useCase.process(record, {
      variant,
      state,
      settings: { ...this.options.defaults, ...this.settings.get(record.customer_id) },
      profile: profileReader(state, this.options.batchProfiles ?? NO_BATCH_PROFILES, record),
      ingestTimeMs: input.timestampMs,
    });
    if (useCase.needsProfile) addToProfile(state, record);
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
