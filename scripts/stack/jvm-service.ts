/**
 * What the servers the stack runs from Maven jars (Kafka, Cassandra) share: one JVM started detached
 * with its output file, readiness by a real query with both files' tails on failure, a SIGTERM stop,
 * and a status. A subclass brings its jars and configuration (`prepare`), its query and its command.
 */
import path from 'node:path';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { ServiceLayout, StackLayout } from './layout.js';
import { runningPid, startDetached, stopProcess } from './processes.js';
import { waitUntilReady } from './readiness.js';
import { describeService, type LocalService, type ServiceStatus } from './service.js';

export interface JvmServer {
  readonly name: 'kafka' | 'cassandra';
  /** How logs and errors name it. */
  readonly title: string;
  readonly version: string;
  /** Where clients reach it, for `stack status`. */
  readonly address: string;
  readonly local: boolean;
  readonly ports: readonly { readonly label: string; readonly port: number }[];
}

export abstract class JvmService implements LocalService {
  protected readonly paths: ServiceLayout;
  /** The folder of its jars (`-cp <lib>/*`). */
  protected readonly lib: string;

  protected constructor(
    protected readonly config: Config,
    protected readonly layout: StackLayout,
    protected readonly logger: Logger,
    private readonly server: JvmServer,
  ) {
    this.paths = layout.service(server.name);
    this.lib = path.join(layout.jarsDir(server.name, server.version), 'lib');
  }

  get name(): JvmServer['name'] {
    return this.server.name;
  }

  get local(): boolean {
    return this.server.local;
  }

  get ports(): JvmServer['ports'] {
    return this.server.ports;
  }

  abstract prepare(): Promise<void>;

  abstract probe(): Promise<void>;

  /** `java`'s arguments: the JVM's flags, the main class and its arguments. */
  protected abstract javaArgs(): string[];

  async isRunning(): Promise<boolean> {
    return (await runningPid(this.paths.pidFile)) !== undefined;
  }

  async start(): Promise<boolean> {
    if (await this.isRunning()) return false;
    const pid = await startDetached({
      command: 'java',
      args: this.javaArgs(),
      outputFile: this.paths.outFile,
      rollAtBytes: this.config.stackLogBytes,
      pidFile: this.paths.pidFile,
    });
    this.logger.info({ pid, log: this.paths.logFile }, `${this.server.title} started`);
    return true;
  }

  waitReady(timeoutMs: number): Promise<void> {
    return waitUntilReady(
      {
        name: this.server.title,
        pidFile: this.paths.pidFile,
        logFiles: [this.paths.logFile, this.paths.outFile],
        probe: () => this.probe(),
      },
      timeoutMs,
    );
  }

  stop(): Promise<'not-running' | 'stopped' | 'killed'> {
    return stopProcess(this.paths.pidFile, 60_000);
  }

  status(): Promise<ServiceStatus> {
    return describeService(this, {
      version: this.server.version,
      address: this.server.address,
      pidFile: this.paths.pidFile,
      dataDir: this.paths.dataDir,
    });
  }
}
