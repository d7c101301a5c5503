/** How the supervisors' --only/--except shares cover the jobs that should run. */
import { describe, expect, it } from 'vitest';
import {
  lackedJobVerdict,
  LackingWatch,
  placement,
  takes,
  type Share,
  type SupervisorRow,
} from '../../speed/deploy/supervisors.js';

function supervisor(
  port: number,
  share: Share,
  slots = 1,
  jobs: { job: string; generation: number; state: string }[] = [],
): SupervisorRow {
  return {
    supervisorId: String(port),
    host: 'h',
    pid: port,
    port,
    share,
    slots,
    jobs,
    startedAt: new Date(0),
    heartbeatAt: new Date(0),
  };
}

const JOBS = ['validation', 'master', 'views', 'delivery', 'usecase.velocity'];

describe('job placement', () => {
  it('a share takes every job, only some, or every job but some', () => {
    expect(JOBS.filter((j) => takes({}, j))).toEqual(JOBS);
    expect(JOBS.filter((j) => takes({ only: ['master', 'views'] }, j))).toEqual(['master', 'views']);
    expect(JOBS.filter((j) => takes({ except: ['master', 'views'] }, j))).toEqual([
      'validation',
      'delivery',
      'usecase.velocity',
    ]);
  });

  it('complementary shares place every job once', () => {
    expect(
      placement(JOBS, [
        supervisor(1, { except: ['master', 'views'] }),
        supervisor(2, { only: ['master', 'views'] }),
      ]),
    ).toEqual({ unplaced: [], standby: [], slotsDiffer: [] });
  });

  it('finds jobs no supervisor takes, a new deployment included', () => {
    expect(placement(JOBS, [supervisor(1, { except: ['master', 'views'] })]).unplaced).toEqual([
      'master',
      'views',
    ]);
    // An --only share does not grow with new deployments.
    expect(placement(JOBS, [supervisor(1, { only: ['validation', 'master', 'views', 'delivery'] })])).toEqual(
      {
        unplaced: ['usecase.velocity'],
        standby: [],
        slotsDiffer: [],
      },
    );
    expect(placement(JOBS, []).unplaced).toEqual([...JOBS].sort());
  });

  it('finds jobs more supervisors take than they have slots: the extra ones wait on standby', () => {
    expect(placement(JOBS, [supervisor(1, {}), supervisor(2, { only: ['views'] })])).toEqual({
      unplaced: [],
      standby: [{ job: 'views', supervisors: ['h:1', 'h:2'], slots: 1 }],
      slotsDiffer: [],
    });
    // Scaling out: with two slots, two instances of views both work.
    expect(placement(JOBS, [supervisor(1, {}, 2), supervisor(2, { only: ['views'] }, 2)]).standby).toEqual(
      [],
    );
    expect(
      placement(JOBS, [supervisor(1, {}, 2), supervisor(2, { only: ['views'] }, 2), supervisor(3, {}, 2)])
        .standby,
    ).toEqual([{ job: 'views', supervisors: ['h:1', 'h:2', 'h:3'], slots: 2 }]);
  });

  it('finds jobs whose supervisors disagree on their slots', () => {
    expect(placement(JOBS, [supervisor(1, {}, 1), supervisor(2, { only: ['views'] }, 4)])).toEqual({
      unplaced: [],
      standby: [],
      slotsDiffer: [
        {
          job: 'views',
          slots: [
            { supervisor: 'h:1', slots: 1 },
            { supervisor: 'h:2', slots: 4 },
          ],
        },
      ],
    });
  });

  it('a supervisor whose release lacks a job leaves it to the others, and does not count as taking it', () => {
    const lacks = (state: string): SupervisorRow =>
      supervisor(2, {}, 1, [{ job: 'usecase.velocity', generation: 3, state }]);
    const runs = supervisor(1, {}, 1, [{ job: 'usecase.velocity', generation: 3, state: 'running' }]);
    expect(placement(JOBS, [runs, lacks('elsewhere')]).standby).toEqual(
      JOBS.filter((j) => j !== 'usecase.velocity')
        .sort()
        .map((job) => ({ job, supervisors: ['h:1', 'h:2'], slots: 1 })),
    );
    // Only supervisors that lack it take it: it runs nowhere, and is said to.
    expect(placement(JOBS, [lacks('elsewhere')]).unplaced).toEqual(['usecase.velocity']);
    expect(placement(JOBS, [lacks('lacking')]).unplaced).toEqual(['usecase.velocity']);
    expect(placement(JOBS, [lacks('running')]).unplaced).toEqual([]);
  });

  it('a worker whose release lacks its job leaves it to a supervisor that runs it, or else pauses it', () => {
    const at = (port: number, state: string, generation = 3, share: Share = {}): SupervisorRow =>
      supervisor(port, share, 1, [{ job: 'usecase.velocity', generation, state }]);
    // Another one runs it at this generation.
    expect(lackedJobVerdict('usecase.velocity', 3, [at(1, 'running')])).toEqual({
      verdict: 'elsewhere',
      supervisor: 'h:1',
    });
    expect(lackedJobVerdict('usecase.velocity', 3, [at(1, 'lacking'), at(2, 'running')])).toEqual({
      verdict: 'elsewhere',
      supervisor: 'h:2',
    });
    // Every other one that takes it lacks it too, or paused it: nothing can run it.
    expect(lackedJobVerdict('usecase.velocity', 3, [at(1, 'lacking'), at(2, 'elsewhere')])).toEqual({
      verdict: 'pause',
    });
    expect(lackedJobVerdict('usecase.velocity', 3, [at(1, 'paused')])).toEqual({ verdict: 'pause' });
    // No other one takes it (one that ran it may be restarting): the worker decides after a grace.
    expect(lackedJobVerdict('usecase.velocity', 3, [])).toEqual({ verdict: 'none' });
    expect(lackedJobVerdict('usecase.velocity', 3, [at(1, 'running', 3, { only: ['master'] })])).toEqual({
      verdict: 'none',
    });
    // Still to say: starting it, restarting it, at an older generation (running it, or lacking it
    // before the deployment changed), or not listing it yet.
    for (const other of [
      at(1, 'starting'),
      at(1, 'backoff'),
      at(1, 'running', 2),
      at(1, 'lacking', 2),
      at(1, 'paused', 2),
      supervisor(1, {}),
    ])
      expect(lackedJobVerdict('usecase.velocity', 3, [at(2, 'lacking'), other])).toEqual({ verdict: 'wait' });
    // Both generations listed (a slot replaced meanwhile): only this one's state counts.
    const both = supervisor(1, {}, 1, [
      { job: 'usecase.velocity', generation: 2, state: 'running' },
      { job: 'usecase.velocity', generation: 3, state: 'lacking' },
    ]);
    expect(lackedJobVerdict('usecase.velocity', 3, [both])).toEqual({ verdict: 'pause' });
    // Rows are other processes' JSON: what does not look like a job status is not one.
    const odd = { ...supervisor(1, {}), jobs: [null, 7, { job: 'usecase.velocity' }] as never };
    expect(lackedJobVerdict('usecase.velocity', 3, [odd])).toEqual({ verdict: 'wait' });
  });

  describe('a lacking worker’s look over time', () => {
    const since = new Date(100_000);
    const row = (port: number, state: string, heartbeatAt = 101_000, share: Share = {}): SupervisorRow => ({
      ...supervisor(port, share, 1, [{ job: 'usecase.velocity', generation: 3, state }]),
      heartbeatAt: new Date(heartbeatAt),
    });
    const watch = (): LackingWatch =>
      new LackingWatch('usecase.velocity', 3, since, 0, { graceMs: 15_000, giveUpMs: 45_000 });

    it('leaves the job to a supervisor that runs it, if its row was refreshed since the look began', () => {
      expect(watch().step([row(1, 'running')], 0)).toEqual({ verdict: 'elsewhere', supervisor: 'h:1' });
      // Not refreshed since: killed a moment ago, perhaps; it does not count as running the job.
      expect(watch().step([row(1, 'running', 99_000)], 0)).toEqual({ verdict: 'wait' });
    });

    it('waits on a supervisor that takes the job and has not refreshed its row, whatever the others say', () => {
      // Two others lack it and refreshed; the one that runs it has not yet: not a pause, ever.
      const w = watch();
      for (const now of [0, 10_000, 20_000, 30_000])
        expect(w.step([row(1, 'lacking'), row(2, 'elsewhere'), row(3, 'running', 99_000)], now)).toEqual({
          verdict: 'wait',
        });
      expect(w.step([row(1, 'lacking'), row(2, 'elsewhere'), row(3, 'running', 99_000)], 45_000)).toEqual({
        verdict: 'give-up',
      });
    });

    it('pauses once nothing could run the job for the whole grace, counted from when that began', () => {
      const w = watch();
      expect(w.step([], 0)).toEqual({ verdict: 'wait' });
      expect(w.step([], 14_999)).toEqual({ verdict: 'wait' });
      // One that takes it shows up (starting, or restarting): the grace starts again after it.
      expect(w.step([row(1, 'starting')], 20_000)).toEqual({ verdict: 'wait' });
      expect(w.step([row(2, 'lacking')], 21_000)).toEqual({ verdict: 'wait' });
      expect(w.step([row(2, 'lacking')], 35_999)).toEqual({ verdict: 'wait' });
      expect(w.step([row(2, 'lacking')], 36_000)).toEqual({ verdict: 'pause' });
    });
  });
});
