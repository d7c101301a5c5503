/** A single-node Kafka in KRaft mode (combined broker and controller), run from its Maven jars. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../core/config.js';
import { probeKafka } from '../../core/kafka/index.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { runChecked } from './commands.js';
import { SERVER_LOGS_KEPT, type StackLayout } from './layout.js';
import { fetchJars } from './maven.js';
import { JvmService } from './jvm-service.js';

function serverProperties(config: Config, dataDir: string): string {
  const { port, controllerPort } = config.kafka;
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@localhost:${controllerPort}`,
    `listeners=PLAINTEXT://:${port},CONTROLLER://:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://localhost:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${path.join(dataDir, 'logs')}`,
    'num.partitions=3',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'log.retention.hours=168',
    'log.segment.bytes=268435456',
    '',
  ].join('\n');
}

/** Kafka 4.x's logging (log4j 2): its own log, rolled at STACK_LOG_SIZE, the chatty loggers at WARN. */
function log4j2Properties(logFile: string, size: string): string {
  return `status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${logFile}
appender.file.filePattern = ${logFile}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = ${size}
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = ${SERVER_LOGS_KEPT}
appender.file.strategy.fileIndex = min
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;
}

/** The same for Kafka 3.x (reload4j, log4j 1's configuration). */
function log4jProperties(logFile: string, size: string): string {
  return `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${logFile}
log4j.appender.file.MaxFileSize=${size}
log4j.appender.file.MaxBackupIndex=${SERVER_LOGS_KEPT}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
`;
}

/** The logging backend a broker version needs: its jars, its configuration file and the flag that names it. */
interface LoggingBackend {
  artifacts: { groupId: string; artifactId: string; version: string }[];
  file: string;
  properties: (logFile: string, size: string) => string;
  flag: (file: string) => string;
}

/**
 * The broker brings no logging backend. 4.x ships log4j-core 2.24.3 with slf4j-api 1.7 (so the
 * log4j-slf4j-impl binding at that version); 3.9.x uses reload4j.
 */
function loggingBackend(kafkaVersion: string): LoggingBackend {
  if (kafkaVersion.startsWith('3.')) {
    return {
      artifacts: [
        { groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: '1.7.36' },
        { groupId: 'ch.qos.reload4j', artifactId: 'reload4j', version: '1.2.25' },
      ],
      file: 'log4j.properties',
      properties: log4jProperties,
      flag: (file) => `-Dlog4j.configuration=file:${file}`,
    };
  }
  return {
    artifacts: [{ groupId: 'org.apache.logging.log4j', artifactId: 'log4j-slf4j-impl', version: '2.24.3' }],
    file: 'log4j2.properties',
    properties: log4j2Properties,
    flag: (file) => `-Dlog4j2.configurationFile=${file}`,
  };
}

/** A Kafka cluster id: 16 random bytes, base64url, never starting with '-' (it would parse as a flag). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export class KafkaService extends JvmService {
  private readonly logging: LoggingBackend;

  constructor(config: Config, layout: StackLayout, logger: Logger) {
    super(config, layout, logger, {
      name: 'kafka',
      title: 'Kafka',
      version: config.kafka.version,
      address: config.kafka.brokers.join(','),
      local: config.kafka.local,
      ports: [
        { label: 'Kafka', port: config.kafka.port },
        { label: 'Kafka controller', port: config.kafka.controllerPort },
      ],
    });
    this.logging = loggingBackend(config.kafka.version);
  }

  private get propertiesFile(): string {
    return path.join(this.paths.confDir, 'server.properties');
  }

  private get loggingFile(): string {
    return path.join(this.paths.confDir, this.logging.file);
  }

  async prepare(): Promise<void> {
    const version = this.config.kafka.version;
    await fetchJars(this.layout.jarsDir('kafka', version), 'kafka', [
      { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version },
      ...this.logging.artifacts,
    ]);
    await mkdir(this.paths.confDir, { recursive: true });
    await mkdir(this.paths.dataDir, { recursive: true });
    await writeFile(this.propertiesFile, serverProperties(this.config, this.paths.dataDir));
    await writeFile(this.loggingFile, this.logging.properties(this.paths.logFile, this.config.stackLogSize));
    if (!existsSync(path.join(this.paths.dataDir, 'logs', 'meta.properties'))) {
      this.logger.info({ dataDir: this.paths.dataDir }, 'formatting Kafka storage');
      await runChecked('formatting Kafka storage', 'java', [
        ...this.jvmArgs('256m'),
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId(),
        '-c',
        this.propertiesFile,
        '--ignore-formatted',
      ]);
    }
  }

  private jvmArgs(heap: string): string[] {
    return [
      `-Xms${heap}`,
      `-Xmx${heap}`,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      this.logging.flag(this.loggingFile),
      `-Dkafka.logs.dir=${path.dirname(this.paths.logFile)}`,
      '-cp',
      `${this.lib}/*`,
    ];
  }

  protected javaArgs(): string[] {
    return [...this.jvmArgs(this.config.kafka.heap), 'kafka.Kafka', this.propertiesFile];
  }

  probe(): Promise<void> {
    // Connection refusals while the broker starts are expected: probe quietly.
    return probeKafka({ brokers: this.config.kafka.brokers, logger: silentLogger }).then(() => undefined);
  }
}
