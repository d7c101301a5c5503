/** `tributary` processes a benchmark starts, and how far behind their consumer groups are. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../../core/config.js';
import type { Admin, Kafka } from '../../core/kafka/index.js';

export interface Proc {
  readonly child: ChildProcess;
  /** The first group of `pattern` in what it printed (stdout, and its log when asked), waiting ≤ 120 s. */
  readonly line: (pattern: RegExp) => Promise<string>;
  readonly stop: () => Promise<void>;
}

/**
 * Starts `tributary ARGS` at log level warn (`env` may change that). With `log`, its log (stderr) is
 * searched by `line` too instead of passed through.
 */
export function tributary(
  config: Config,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  { log = false } = {},
): Proc {
  const child = spawn(process.execPath, [path.join(config.projectRoot, 'bin', 'tributary.js'), ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', log ? 'pipe' : 'inherit'],
  });
  let out = '';
  const keep = (chunk: Buffer): void => {
    out += chunk.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  return {
    child,
    line: async (pattern) => {
      for (let i = 0; i < 1200; i += 1) {
        const match = pattern.exec(out)?.[1];
        if (match !== undefined) return match;
        await delay(100);
      }
      throw new Error(`no ${String(pattern)} from tributary ${args.join(' ')}: ${out}`);
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs `tributary ARGS` to its end; throws unless it exits 0. */
export async function run(config: Config, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const p = tributary(config, args, env);
  const code = await new Promise<number | null>((resolve) => p.child.once('exit', resolve));
  if (code !== 0) throw new Error(`tributary ${args.join(' ')} exited ${code}`);
}

/** Records of `topic` that `groupId` has not committed yet. */
export async function uncommitted(admin: Admin, groupId: string, topic: string): Promise<number> {
  const ends = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return ends.reduce((n, e) => {
    const offset = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1';
    return n + Math.max(0, Number(e.high) - Math.max(0, Number(offset)));
  }, 0);
}

/** True when every group has committed everything of its topic. */
export async function lagZero(
  kafka: Kafka,
  groups: readonly { groupId: string; topic: string }[],
): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const { groupId, topic } of groups) if ((await uncommitted(admin, groupId, topic)) > 0) return false;
    return true;
  } finally {
    await admin.disconnect();
  }
}
