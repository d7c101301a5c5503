-- Every running `tributary speed` supervisor, refreshed every two seconds: where it runs, its share of
-- the jobs (`--only` / `--except`; {} for every job), its SPEED_SLOTS and the live status of the jobs
-- it runs. `tributary list` shows every supervisor's jobs from here, wherever they run, and each
-- supervisor warns about a job that no live supervisor takes, that more take than it has slots, or
-- whose supervisors disagree on its slots. A row not refreshed for 10 s (by PostgreSQL's clock, so
-- machines' clocks need not agree) is a supervisor that is gone.
CREATE TABLE speed_supervisors (
  supervisor_id uuid PRIMARY KEY,
  host          text NOT NULL,
  pid           integer NOT NULL,
  port          integer NOT NULL,
  share         jsonb NOT NULL CHECK (jsonb_typeof(share) = 'object'),
  slots         integer NOT NULL CHECK (slots > 0),
  jobs          jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(jobs) = 'array'),
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now()
);
