/** How the supervisors' --only/--except shares cover the jobs that should run. */
import { describe, expect, it } from 'vitest';
import { placement, takes, type Share, type SupervisorRow } from '../../speed/deploy/supervisors.js';

function supervisor(port: number, share: Share, slots = 1): SupervisorRow {
  return {
    supervisorId: String(port),
    host: 'h',
    pid: port,
    port,
    share,
    slots,
    jobs: [],
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
});
