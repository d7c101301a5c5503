/** Where the local stack keeps its jars, data, logs and pid files, all under TRIBUTARY_HOME. */
import path from 'node:path';

export const SERVICE_NAMES = ['kafka', 'cassandra', 'postgres'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ServiceLayout {
  readonly dataDir: string;
  readonly confDir: string;
  readonly logFile: string;
  readonly pidFile: string;
}

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
      pidFile: path.join(this.runDir, `${name}.pid`),
    };
  }
}
