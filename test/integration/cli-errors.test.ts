/** Bad configuration and bad flags fail clearly, with the documented exit codes. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('command line errors', () => {
  it('a bad configuration value names the variable and exits 78 before doing anything', async () => {
    const result = await runCli(['stack', 'status'], {
      KAFKA_PORT: 'not-a-port',
      CASSANDRA_HEAP: '12 bananas',
    });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('CONFIG_INVALID');
    expect(result.stderr).toContain('KAFKA_PORT="not-a-port"');
    expect(result.stderr).toContain('CASSANDRA_HEAP="12 bananas"');
  });

  it('an unknown flag prints usage and exits 2', async () => {
    const result = await runCli(['stack', 'up', '--bogus']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown option '--bogus'/);
    expect(result.stderr).toMatch(/Usage: tributary stack up/);
  });

  it('an unknown command exits 2', async () => {
    const result = await runCli(['launch-rockets']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown command/);
  });

  it('--help works even with a bad environment', async () => {
    const result = await runCli(['--help'], { KAFKA_PORT: 'nope' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('stack');
  });
});
