/** `tributary stack up|down|status`: the local Kafka, Cassandra and PostgreSQL, real servers only. */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { CassandraService } from './cassandra.js';
import { KafkaService } from './kafka.js';
import { StackLayout } from './layout.js';
import { withFileLock } from './lock.js';
import { PostgresService } from './postgres.js';
import { assertPortFree } from './processes.js';
import type { LocalService, ServiceStatus } from './service.js';

/** How long each server may take to answer after it was started. */
const READY_TIMEOUT_MS: Readonly<Record<LocalService['name'], number>> = {
  kafka: 90_000,
  cassandra: 240_000,
  postgres: 60_000,
};

export interface UpResult {
  readonly started: readonly string[];
  readonly alreadyRunning: readonly string[];
  readonly external: readonly string[];
  readonly durationMs: number;
}

export class Stack {
  readonly layout: StackLayout;
  readonly services: readonly LocalService[];

  constructor(
    readonly config: Config,
    private readonly logger: Logger,
  ) {
    this.layout = new StackLayout(config.home, config.cacheDir);
    this.services = [
      new KafkaService(config, this.layout, logger.child({ service: 'kafka' })),
      new CassandraService(config, this.layout, logger.child({ service: 'cassandra' })),
      new PostgresService(config, this.layout, logger.child({ service: 'postgres' })),
    ];
  }

  private lock<T>(work: () => Promise<T>): Promise<T> {
    return mkdir(this.layout.runDir, { recursive: true }).then(() =>
      withFileLock(path.join(this.layout.runDir, 'stack.lock'), 600_000, work),
    );
  }

  /**
   * Starts every local server that is not running (all at once), waits until each answers a real
   * query, and checks that external ones answer. Running it again is a no-op.
   */
  up(): Promise<UpResult> {
    return this.lock(async () => {
      const began = Date.now();
      const started: string[] = [];
      const alreadyRunning: string[] = [];
      const external: string[] = [];
      await this.preflight();
      await Promise.all(
        this.services.map(async (service) => {
          if (!service.local) {
            await service.probe();
            external.push(service.name);
            return;
          }
          await service.prepare();
          if (await service.start()) started.push(service.name);
          else alreadyRunning.push(service.name);
          await service.waitReady(READY_TIMEOUT_MS[service.name]);
          this.logger.info({ service: service.name }, 'ready');
        }),
      );
      return { started, alreadyRunning, external, durationMs: Date.now() - began };
    });
  }

  /** Checks every port a server about to start needs, so that nothing starts when one is taken. */
  private async preflight(): Promise<void> {
    for (const service of this.services) {
      if (!service.local || (await service.isRunning())) continue;
      for (const { label, port } of service.ports) await assertPortFree(label, port);
    }
  }

  /** Stops exactly the servers `up` started (by pid file): gracefully, then forcibly after a timeout. */
  down(): Promise<Record<string, string>> {
    return this.lock(async () => {
      const outcomes: Record<string, string> = {};
      await Promise.all(
        this.services.map(async (service) => {
          outcomes[service.name] = service.local ? await service.stop() : 'external';
        }),
      );
      return outcomes;
    });
  }

  status(): Promise<ServiceStatus[]> {
    return Promise.all(this.services.map((service) => service.status()));
  }
}

export function formatStatus(statuses: readonly ServiceStatus[]): string {
  const rows = statuses.map((s) => [
    s.name,
    s.health,
    s.version,
    s.address,
    s.pid === undefined ? '-' : String(s.pid),
    s.rssBytes === undefined ? '-' : `${Math.round(s.rssBytes / 1024 / 1024)} MB`,
    s.dataDir,
  ]);
  const header = ['SERVICE', 'HEALTH', 'VERSION', 'ADDRESS', 'PID', 'RSS', 'DATA'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
