/** A single-node Cassandra 5.0, run from the cassandra-all jar and its dependencies on JDK 17. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../core/config.js';
import { probeCassandra } from '../../core/cassandra/index.js';
import type { Logger } from '../../core/logger.js';
import { SERVER_LOGS_KEPT, type StackLayout } from './layout.js';
import { fetchJars } from './maven.js';
import { JvmService } from './jvm-service.js';

/** From Cassandra 5.0's conf/jvm17-server.options: without these the JVM dies at start-up. */
const JDK17_EXPORTS = [
  'java.base/jdk.internal.misc',
  'java.management.rmi/com.sun.jmx.remote.internal.rmi',
  'java.management/com.sun.jmx.remote.security',
  'java.rmi/sun.rmi.registry',
  'java.rmi/sun.rmi.server',
  'java.sql/java.sql',
  'java.base/java.lang.ref',
  'jdk.unsupported/sun.misc',
];
const JDK17_OPENS = [
  'java.base/java.lang.module',
  'java.base/jdk.internal.loader',
  'java.base/jdk.internal.ref',
  'java.base/jdk.internal.reflect',
  'java.base/jdk.internal.math',
  'java.base/jdk.internal.module',
  'java.base/jdk.internal.util.jar',
  'jdk.management/com.sun.management.internal',
  'java.base/sun.nio.ch',
  'java.base/java.io',
  'java.base/java.lang.reflect',
  'java.base/java.lang',
  'java.base/java.util',
  'java.base/java.nio',
];

function cassandraYaml(config: Config, dataDir: string): string {
  const { port, storagePort } = config.cassandra;
  const dir = (name: string): string => JSON.stringify(path.join(dataDir, name));
  return `cluster_name: tributary-local
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
num_tokens: 1
initial_token: 0
commitlog_sync: periodic
commitlog_sync_period: 10s
commitlog_segment_size: 32MiB
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
native_transport_port: ${port}
storage_port: ${storagePort}
data_file_directories:
  - ${dir('data')}
commitlog_directory: ${dir('commitlog')}
saved_caches_directory: ${dir('saved_caches')}
hints_directory: ${dir('hints')}
cdc_raw_directory: ${dir('cdc_raw')}
auto_snapshot: false
snapshot_before_compaction: false
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
concurrent_reads: 16
concurrent_writes: 16
concurrent_counter_writes: 16
memtable_allocation_type: offheap_objects
batch_size_warn_threshold: 64KiB
batch_size_fail_threshold: 640KiB
`;
}

/** Cassandra's logging (logback): its own log, rolled by size. The path is XML-escaped. */
function logbackXml(logFile: string, size: string): string {
  const file = logFile.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>${file}</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>${file}.%i</fileNamePattern>
      <minIndex>1</minIndex>
      <maxIndex>${SERVER_LOGS_KEPT}</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>${size}</maxFileSize>
      <!-- logback looks at the size once a minute by default: too late for a small size -->
      <checkIncrement>1 second</checkIncrement>
    </triggeringPolicy>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra" level="INFO"/>
  <logger name="com.datastax" level="WARN"/>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
`;
}

export class CassandraService extends JvmService {
  constructor(config: Config, layout: StackLayout, logger: Logger) {
    super(config, layout, logger, {
      name: 'cassandra',
      title: 'Cassandra',
      version: config.cassandra.version,
      address: config.cassandra.contactPoints.join(','),
      local: config.cassandra.local,
      ports: [
        { label: 'Cassandra (CQL)', port: config.cassandra.port },
        { label: 'Cassandra (storage)', port: config.cassandra.storagePort },
      ],
    });
  }

  async prepare(): Promise<void> {
    await fetchJars(this.layout.jarsDir('cassandra', this.config.cassandra.version), 'cassandra', [
      {
        groupId: 'org.apache.cassandra',
        artifactId: 'cassandra-all',
        version: this.config.cassandra.version,
      },
    ]);
    await mkdir(this.paths.confDir, { recursive: true });
    for (const sub of ['data', 'commitlog', 'saved_caches', 'hints', 'cdc_raw', 'tmp']) {
      await mkdir(path.join(this.paths.dataDir, sub), { recursive: true });
    }
    await writeFile(
      path.join(this.paths.confDir, 'cassandra.yaml'),
      cassandraYaml(this.config, this.paths.dataDir),
    );
    await writeFile(
      path.join(this.paths.confDir, 'logback.xml'),
      logbackXml(this.paths.logFile, this.config.stackLogSize),
    );
  }

  private jvmArgs(): string[] {
    const heap = this.config.cassandra.heap;
    return [
      `-Xms${heap}`,
      `-Xmx${heap}`,
      '-Xss256k',
      // One GC thread and short pauses: a young collection of the default (two threads, 300 ms
      // target) stopped both cores for 60–270 ms every 10–15 s, and every job on the way to
      // feedback with them (ARCHITECTURE.md, "Cassandra's collections").
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=50',
      '-XX:ParallelGCThreads=1',
      '-XX:ConcGCThreads=1',
      // Quoted: -Xlog separates its parts with colons. The folder exists (the server's log is in it).
      `-Xlog:gc:file="${path.join(path.dirname(this.paths.logFile), 'cassandra-gc.log')}":time,uptime:filecount=4,filesize=10M`,
      '-XX:+ExitOnOutOfMemoryError',
      '-XX:+HeapDumpOnOutOfMemoryError',
      `-XX:HeapDumpPath=${this.paths.dataDir}`,
      '-Djdk.attach.allowAttachSelf=true',
      '-Dio.netty.tryReflectionSetAccessible=true',
      '-Djava.net.preferIPv4Stack=true',
      ...JDK17_EXPORTS.flatMap((pkg) => ['--add-exports', `${pkg}=ALL-UNNAMED`]),
      ...JDK17_OPENS.flatMap((pkg) => ['--add-opens', `${pkg}=ALL-UNNAMED`]),
      `-javaagent:${path.join(this.lib, 'jamm-0.4.0.jar')}`,
      `-Dcassandra.config=file://${path.join(this.paths.confDir, 'cassandra.yaml')}`,
      '-Dcassandra-foreground=yes',
      `-Dcassandra.storagedir=${this.paths.dataDir}`,
      `-Dcassandra.logdir=${path.dirname(this.paths.logFile)}`,
      `-Dlogback.configurationFile=${path.join(this.paths.confDir, 'logback.xml')}`,
      `-Djava.io.tmpdir=${path.join(this.paths.dataDir, 'tmp')}`,
      '-Dcassandra.skip_wait_for_gossip_to_settle=0',
      '-Dcassandra.ring_delay_ms=0',
      '-Dcassandra.initial_token=0',
      '-cp',
      `${this.lib}/*`,
    ];
  }

  protected javaArgs(): string[] {
    return [...this.jvmArgs(), 'org.apache.cassandra.service.CassandraDaemon'];
  }

  async probe(): Promise<void> {
    await probeCassandra({
      contactPoints: this.config.cassandra.contactPoints,
      localDataCenter: this.config.cassandra.localDataCenter,
    });
  }
}
