import { describe, expect, it } from 'vitest';
import { loadConfig, replicationMap } from '../../core/config.js';
import { TributaryError } from '../../core/errors.js';

describe('loadConfig', () => {
  it('gives the defaults of product.md and runs every server locally when no variable is set', () => {
    const config = loadConfig({});
    expect(config.kafka.brokers).toEqual(['localhost:9092']);
    expect(config.kafka.local).toBe(true);
    expect(config.cassandra.contactPoints).toEqual(['127.0.0.1:9042']);
    expect(config.cassandra.keyspace).toBe('tributary');
    expect(config.cassandra.retentionDays).toBe(60);
    expect(config.postgres.local).toBe(true);
    expect(config.postgres.url).toMatch(/^postgres:\/\/.*@127\.0\.0\.1:5433\/tributary$/);
  });

  it('reads STACK_LOG_SIZE in KB and MB as binary units, as log4j and logback do', () => {
    expect(loadConfig({ STACK_LOG_SIZE: '16KB' }).stackLogBytes).toBe(16 * 1024);
    expect(loadConfig({}).stackLogBytes).toBe(10 * 1024 * 1024);
    expect(() => loadConfig({ STACK_LOG_SIZE: '10GB' })).toThrow(/STACK_LOG_SIZE="10GB"/);
  });

  it('treats a set KAFKA_BROKERS, CASSANDRA_CONTACT_POINTS or DATABASE_URL as an existing cluster', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'k1:9092, k2:9092',
      CASSANDRA_CONTACT_POINTS: 'c1',
      DATABASE_URL: 'postgresql://u:p@db:5432/x',
    });
    expect(config.kafka.local).toBe(false);
    expect(config.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(config.cassandra.local).toBe(false);
    expect(config.postgres.local).toBe(false);
    expect(config.postgres.url).toBe('postgresql://u:p@db:5432/x');
  });

  it('names every bad variable, its value and what was expected', () => {
    let error: unknown;
    try {
      loadConfig({
        KAFKA_PORT: 'ninety',
        CASSANDRA_KEYSPACE: 'Bad-Name',
        RETENTION_DAYS: '30',
        KAFKA_HEAP: 'lots',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TributaryError);
    const message = (error as TributaryError).message;
    expect((error as TributaryError).code).toBe('CONFIG_INVALID');
    expect(message).toContain('KAFKA_PORT="ninety"');
    expect(message).toContain('CASSANDRA_KEYSPACE="Bad-Name"');
    expect(message).toContain('RETENTION_DAYS="30"');
    expect(message).toContain('at least 60 days');
    expect(message).toContain('KAFKA_HEAP="lots"');
  });

  it('rejects a DATABASE_URL that is not a PostgreSQL URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x@y/z' })).toThrow(/DATABASE_URL/);
  });

  it('renders keyspace replication for one node and for production', () => {
    expect(replicationMap('SimpleStrategy:1')).toBe("{'class': 'SimpleStrategy', 'replication_factor': 1}");
    expect(replicationMap('NetworkTopologyStrategy:dc1=3,dc2=2')).toBe(
      "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}",
    );
    expect(() => loadConfig({ CASSANDRA_REPLICATION: 'Everywhere' })).toThrow(/CASSANDRA_REPLICATION/);
  });
});
