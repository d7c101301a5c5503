/** Where the local stack keeps its jars, data, logs and pid files, all under TRIBUTARY_HOME. */
import path from 'node:path';

export const SERVICE_NAMES = ['kafka', 'cassandra', 'postgres'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ServiceLayout {
  readonly dataDir: string;
  readonly confDir: string;
  /** The server's log. Kafka and Cassandra write it themselves and roll it (SERVER_LOGS_KEPT). */
  readonly logFile: string;
  /**
   * What a JVM prints outside its logger (a bad flag, a heap too small, a crash), appended and
   * small; PostgreSQL's output is its log.
   */
  readonly outFile: string;
  readonly pidFile: string;
}

/**
 * Kafka's and Cassandra's logs roll at STACK_LOG_SIZE (10 MB by default), keeping this many older
 * files (`<service>.log.1` the newest): at most 60 MB each, however long the stack runs. The servers'
 * output files (`.out`, PostgreSQL's log) keep as many, rolled at a start (rollIfLarge).
 */
export const SERVER_LOGS_KEPT = 5;

export class StackLayout {
  constructor(
    readonly home: string,
    readonly cacheDir: string = path.join(home, 'cache'),
  ) {}

  get logsDir(): string {
    return path.join(this.home, 'logs');
  }

  get runDir(): string {
    return path.join(this.home, 'run');
  }

  /** The folder of jars for one Maven-fetched server at one version. */
  jarsDir(name: string, version: string): string {
    return path.join(this.cacheDir, `${name}-${version}`);
  }

  service(name: ServiceName): ServiceLayout {
    return {
      dataDir: path.join(this.home, 'data', name),
      confDir: path.join(this.home, 'conf', name),
      logFile: path.join(this.logsDir, `${name}.log`),
      outFile: path.join(this.logsDir, `${name}.out`),
      pidFile: path.join(this.runDir, `${name}.pid`),
    };
  }
}
