/**
 * The one validated configuration of Tributary, read from environment variables once at start-up.
 * A bad value fails fast with the variable's name, the value and what was expected.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TributaryError } from './errors.js';

/** The folder holding Tributary's package.json, from the source tree or from `dist/`. */
export const PROJECT_ROOT = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const heap = z.string().regex(/^\d+[mMgG]$/, 'a JVM heap size such as 512m or 1g');
const hostPortList = z
  .string()
  .trim()
  .min(1)
  .transform((value) => value.split(',').map((item) => item.trim()))
  .pipe(z.array(z.string().regex(/^[A-Za-z0-9_.-]+(:\d{1,5})?$/, 'host or host:port')).min(1));
const identifier = z.string().regex(/^[a-z][a-z0-9_]{0,47}$/, 'a lower-case CQL identifier');
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** `SimpleStrategy:1` or `NetworkTopologyStrategy:dc1=3,dc2=3`. */
const replication = z
  .string()
  .trim()
  .regex(
    /^(SimpleStrategy:\d+|NetworkTopologyStrategy:[A-Za-z0-9_-]+=\d+(,[A-Za-z0-9_-]+=\d+)*)$/,
    'SimpleStrategy:<rf> or NetworkTopologyStrategy:<dc>=<rf>[,<dc>=<rf>…]',
  );

/** Each variable, its parser and its default. The order is the order of `--help` and the README. */
const VARIABLES = {
  TRIBUTARY_HOME: z.string().min(1).default(path.join(PROJECT_ROOT, '.tributary')),
  TRIBUTARY_CACHE: z.string().min(1).optional(),
  TRIBUTARY_MIGRATIONS_DIR: z.string().min(1).optional(),
  STACK_LOG_SIZE: z
    .string()
    .trim()
    .regex(/^[1-9]\d*(KB|MB)$/, 'a size such as 10MB or 512KB')
    .default('10MB'),
  LOG_LEVEL: logLevel.default('info'),
  KAFKA_BROKERS: hostPortList.optional(),
  KAFKA_PORT: port.default(9092),
  KAFKA_CONTROLLER_PORT: port.default(9093),
  KAFKA_HEAP: heap.default('512m'),
  KAFKA_VERSION: z
    .string()
    .regex(/^\d+\.\d+\.\d+$/)
    .default('4.4.0'),
  CASSANDRA_CONTACT_POINTS: hostPortList.optional(),
  CASSANDRA_PORT: port.default(9042),
  CASSANDRA_STORAGE_PORT: port.default(7000),
  CASSANDRA_HEAP: heap.default('1g'),
  CASSANDRA_VERSION: z
    .string()
    .regex(/^\d+\.\d+\.\d+$/)
    .default('5.0.8'),
  CASSANDRA_LOCAL_DC: z.string().min(1).default('datacenter1'),
  CASSANDRA_KEYSPACE: identifier.default('tributary'),
  CASSANDRA_REPLICATION: replication.default('SimpleStrategy:1'),
  RETENTION_DAYS: positiveInt.min(60, 'at least 60 days of history are kept').default(60),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  PG_PORT: port.default(5433),
  API_PORT: port.default(8080),
  REGISTRY_PORT: port.default(8081),
  SCHEMA_REGISTRY_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8081'),
  REGISTRY_ADMIN_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  RECORDS_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, 'a Kafka topic name')
    .default('records'),
  RECORDS_PARTITIONS: positiveInt.max(1000).default(6),
  FINDINGS_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, 'a Kafka topic name')
    .default('findings'),
  FEEDBACK_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, 'a Kafka topic name')
    .default('feedback'),
  TRIBUTARY_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,40}$/, 'a lower-case name')
    .default('tributary'),
  SPEED_PORT: port.default(9464),
  SPEED_SLOTS: positiveInt.max(1000).default(1),
  SPEED_COMMIT_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  SPEED_FETCH_WAIT_MS: positiveInt.max(10_000).default(500),
  SPEED_FETCH_MIN_BYTES: positiveInt.max(10 * 1024 * 1024).default(1),
  SPEED_FETCH_INTERVAL_MS: z.coerce.number().int().min(0).max(10_000).default(20),
  SPEED_BULK_FETCH_WAIT_MS: positiveInt.max(60_000).default(1_000),
  SPEED_BULK_NICE: z.coerce.number().int().min(0).max(19).default(10),
  USECASE_MODULES: z.string().optional(),
  DUPLICATE_HORIZON_DAYS: positiveInt.max(365).default(7),
  DUPLICATE_FILTER_BITS: positiveInt
    .min(1024)
    .max(2 ** 31)
    .default(16 * 1024 * 1024),
} as const;

const EnvSchema = z.object(VARIABLES);
export type ConfigVariable = keyof typeof VARIABLES;
export const CONFIG_VARIABLES = Object.keys(VARIABLES) as readonly ConfigVariable[];

export interface ServiceEndpoint {
  /** True when this service is run by `tributary stack` (its variable was not set). */
  readonly local: boolean;
}

export interface Config {
  readonly home: string;
  /** Downloaded server jars; shared by several homes (the tests' throw-away stacks) when set. */
  readonly cacheDir: string;
  readonly projectRoot: string;
  /** Holds postgres/*.sql and cassandra/*.cql schema migrations; the shipped ones by default. */
  readonly migrationsDir: string;
  /** The local Kafka's and Cassandra's own logs roll at this size ('10MB', '512KB'), as their loggers read it. */
  readonly stackLogSize: string;
  /** The same in bytes (KB and MB binary, as those loggers count): the servers' output files roll at a start when over it. */
  readonly stackLogBytes: number;
  readonly logLevel: z.infer<typeof logLevel>;
  readonly kafka: ServiceEndpoint & {
    readonly brokers: readonly string[];
    readonly port: number;
    readonly controllerPort: number;
    readonly heap: string;
    readonly version: string;
  };
  readonly cassandra: ServiceEndpoint & {
    readonly contactPoints: readonly string[];
    readonly port: number;
    readonly storagePort: number;
    readonly heap: string;
    readonly version: string;
    readonly localDataCenter: string;
    readonly keyspace: string;
    readonly replication: string;
    readonly retentionDays: number;
  };
  readonly postgres: ServiceEndpoint & {
    readonly url: string;
    readonly port: number;
  };
  readonly api: { readonly port: number };
  readonly registry: {
    readonly port: number;
    /** Where clients (gateway, jobs, generator) reach the registry. */
    readonly url: string;
    /** When set, writes (register, delete, config) need `Authorization: Bearer <token>`. */
    readonly adminToken: string | undefined;
  };
  readonly topics: {
    readonly records: string;
    readonly deadLetter: string;
    readonly valid: string;
    readonly findings: string;
    readonly feedback: string;
    /** Partitions of the records topics when they are created (more = more parallel consumers). */
    readonly partitions: number;
  };
  /** Prefix of consumer groups, state and job dead-letter topics. */
  readonly namespace: string;
  readonly speed: {
    readonly port: number;
    /** Ownership slots per job: the unit a group member owns (core/kafka/slots.ts). */
    readonly slots: number;
    /** How often jobs checkpoint their state and commit their input offsets. */
    readonly commitIntervalMs: number;
    /** The broker answers a fetch when it has `fetchMinBytes` or after `fetchWaitMs`. */
    readonly fetchWaitMs: number;
    readonly fetchMinBytes: number;
    /** A job's next fetch starts no sooner than this after its last one (0 = at once). */
    readonly fetchIntervalMs: number;
    /**
     * Fetch wait of the jobs off the way to feedback (master dataset, views): at moderate rates
     * they write larger batches less often (their minimum fetch is 1 MiB).
     */
    readonly bulkFetchWaitMs: number;
    /**
     * CPU priority (Unix nice) of those jobs: on a shared machine the speed layer's way to feedback
     * comes first, and they catch up when it leaves them CPU (0 = same priority).
     */
    readonly bulkNice: number;
    /** Compiled ES modules with extra use cases (each default-exports one). */
    readonly useCaseModules: readonly string[];
  };
  /** How validation recognises a re-sent record (same customer and record_id): ingest/validation. */
  readonly duplicates: {
    /** How long a record id is remembered. */
    readonly horizonDays: number;
    /** Bits of each of the Bloom filter's three generations, per partition. */
    readonly filterBits: number;
  };
}

export const LOCAL_PG_USER = 'tributary';
export const LOCAL_PG_PASSWORD = 'tributary';
export const LOCAL_PG_DATABASE = 'tributary';

/** Parses the environment into a Config, or throws CONFIG_INVALID naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string> = {};
  for (const name of CONFIG_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const parsed = EnvSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      return `${name}=${JSON.stringify(raw[name] ?? '')}: ${issue.message}`;
    });
    throw new TributaryError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  const v = parsed.data;
  const home = path.resolve(v.TRIBUTARY_HOME);
  return {
    home,
    cacheDir: path.resolve(v.TRIBUTARY_CACHE ?? path.join(home, 'cache')),
    projectRoot: PROJECT_ROOT,
    migrationsDir: path.resolve(v.TRIBUTARY_MIGRATIONS_DIR ?? path.join(PROJECT_ROOT, 'migrations')),
    stackLogSize: v.STACK_LOG_SIZE,
    stackLogBytes:
      Number.parseInt(v.STACK_LOG_SIZE, 10) * (v.STACK_LOG_SIZE.endsWith('MB') ? 1024 * 1024 : 1024),
    logLevel: v.LOG_LEVEL,
    kafka: {
      local: v.KAFKA_BROKERS === undefined,
      brokers: v.KAFKA_BROKERS ?? [`localhost:${v.KAFKA_PORT}`],
      port: v.KAFKA_PORT,
      controllerPort: v.KAFKA_CONTROLLER_PORT,
      heap: v.KAFKA_HEAP,
      version: v.KAFKA_VERSION,
    },
    cassandra: {
      local: v.CASSANDRA_CONTACT_POINTS === undefined,
      contactPoints: v.CASSANDRA_CONTACT_POINTS ?? [`127.0.0.1:${v.CASSANDRA_PORT}`],
      port: v.CASSANDRA_PORT,
      storagePort: v.CASSANDRA_STORAGE_PORT,
      heap: v.CASSANDRA_HEAP,
      version: v.CASSANDRA_VERSION,
      localDataCenter: v.CASSANDRA_LOCAL_DC,
      keyspace: v.CASSANDRA_KEYSPACE,
      replication: v.CASSANDRA_REPLICATION,
      retentionDays: v.RETENTION_DAYS,
    },
    postgres: {
      local: v.DATABASE_URL === undefined,
      url:
        v.DATABASE_URL ??
        `postgres://${LOCAL_PG_USER}:${LOCAL_PG_PASSWORD}@127.0.0.1:${v.PG_PORT}/${LOCAL_PG_DATABASE}`,
      port: v.PG_PORT,
    },
    api: { port: v.API_PORT },
    registry: { port: v.REGISTRY_PORT, url: v.SCHEMA_REGISTRY_URL, adminToken: v.REGISTRY_ADMIN_TOKEN },
    topics: {
      records: v.RECORDS_TOPIC,
      deadLetter: `${v.RECORDS_TOPIC}.dlq`,
      valid: `${v.RECORDS_TOPIC}.valid`,
      findings: v.FINDINGS_TOPIC,
      feedback: v.FEEDBACK_TOPIC,
      partitions: v.RECORDS_PARTITIONS,
    },
    namespace: v.TRIBUTARY_NAMESPACE,
    speed: {
      port: v.SPEED_PORT,
      slots: v.SPEED_SLOTS,
      commitIntervalMs: v.SPEED_COMMIT_INTERVAL_MS,
      fetchWaitMs: v.SPEED_FETCH_WAIT_MS,
      fetchMinBytes: v.SPEED_FETCH_MIN_BYTES,
      fetchIntervalMs: v.SPEED_FETCH_INTERVAL_MS,
      bulkFetchWaitMs: v.SPEED_BULK_FETCH_WAIT_MS,
      bulkNice: v.SPEED_BULK_NICE,
      useCaseModules: (v.USECASE_MODULES ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== ''),
    },
    duplicates: { horizonDays: v.DUPLICATE_HORIZON_DAYS, filterBits: v.DUPLICATE_FILTER_BITS },
  };
}

/** The CQL replication map for a `CASSANDRA_REPLICATION` value. */
export function replicationMap(value: string): string {
  const [strategy = '', spec = ''] = value.split(':');
  if (strategy === 'SimpleStrategy') {
    return `{'class': 'SimpleStrategy', 'replication_factor': ${Number(spec)}}`;
  }
  const dcs = spec.split(',').map((pair) => {
    const [dc = '', rf = ''] = pair.split('=');
    return `'${dc}': ${Number(rf)}`;
  });
  return `{'class': 'NetworkTopologyStrategy', ${dcs.join(', ')}}`;
}
