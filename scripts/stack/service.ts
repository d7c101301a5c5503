/** What `tributary stack` needs from each local server. */
import { residentBytes, runningPid } from './processes.js';
import type { ServiceName } from './layout.js';

export type Health = 'healthy' | 'unhealthy' | 'stopped' | 'external';

export interface ServiceStatus {
  readonly name: ServiceName;
  readonly version: string;
  readonly address: string;
  readonly pid: number | undefined;
  readonly dataDir: string;
  readonly health: Health;
  readonly rssBytes: number | undefined;
  readonly detail?: string;
}

export interface LocalService {
  readonly name: ServiceName;
  /** True when the stack runs this server (its variable points nowhere else). */
  readonly local: boolean;
  /** The TCP ports the server listens on, checked before anything is started. */
  readonly ports: readonly { readonly label: string; readonly port: number }[];
  /** True when the process recorded in the pid file is alive. */
  isRunning(): Promise<boolean>;
  /** Fetches or installs binaries and writes configuration; safe to repeat. */
  prepare(): Promise<void>;
  /** Starts the server unless it already runs; returns false when it was already running. */
  start(): Promise<boolean>;
  /** Resolves once the server answers a real query; throws with its log tail if it died. */
  waitReady(timeoutMs: number): Promise<void>;
  /** Answers a real query once (no waiting). */
  probe(): Promise<void>;
  stop(): Promise<'not-running' | 'stopped' | 'killed'>;
  status(): Promise<ServiceStatus>;
}

export interface ServiceFacts {
  readonly version: string;
  readonly address: string;
  readonly pidFile: string;
  readonly dataDir: string;
}

/** The status of a service: probed for health, with pid and RSS when the stack runs it. */
export async function describeService(service: LocalService, facts: ServiceFacts): Promise<ServiceStatus> {
  const answers = (): Promise<boolean> =>
    service.probe().then(
      () => true,
      () => false,
    );
  if (!service.local) {
    return {
      name: service.name,
      version: 'external',
      address: facts.address,
      pid: undefined,
      dataDir: '-',
      health: (await answers()) ? 'external' : 'unhealthy',
      rssBytes: undefined,
    };
  }
  const pid = await runningPid(facts.pidFile);
  const health: Health = pid === undefined ? 'stopped' : (await answers()) ? 'healthy' : 'unhealthy';
  return {
    name: service.name,
    version: facts.version,
    address: facts.address,
    pid,
    dataDir: facts.dataDir,
    health,
    rssBytes: pid === undefined ? undefined : await residentBytes(pid),
  };
}
