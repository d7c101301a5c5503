/** A progress bar on stderr for long work (only when stderr is a terminal; silent in pipes and CI). */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

export function progressBar(label: string, total: number, unit = 'records'): Progress {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {speed}/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const began = performance.now();
  bar.start(total, 0, { speed: 0 });
  return {
    update: (done) => {
      bar.update(done, { speed: Math.round((done * 1000) / Math.max(1, performance.now() - began)) });
    },
    stop: () => {
      bar.stop();
    },
  };
}
