-- The control plane: customers and their settings, API keys (hashed), use-case deployments and A/B
-- assignments, batch and migration runs. The master dataset lives in Cassandra, not here.

CREATE TABLE customers (
  customer_id text PRIMARY KEY CHECK (customer_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  disabled_at timestamptz
);

-- Per-customer settings read by the use cases, e.g. {"velocity_max_records": 10, "merchant_required": true}.
CREATE TABLE customer_settings (
  customer_id text PRIMARY KEY REFERENCES customers (customer_id) ON DELETE CASCADE,
  settings    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- API keys are shown once at creation; only a SHA-256 of the key is stored. The prefix identifies a
-- key in listings and logs without revealing it.
CREATE TABLE api_keys (
  key_id       text PRIMARY KEY,
  customer_id  text NOT NULL REFERENCES customers (customer_id) ON DELETE CASCADE,
  key_hash     bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
  prefix       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz,
  last_used_at timestamptz
);
CREATE INDEX api_keys_by_customer ON api_keys (customer_id);

-- One row per deployed use case variant ('' when the use case has no variants). `generation` grows by
-- one on every update; the job's consumer group is derived from (usecase, variant), so an update
-- continues from its predecessor's committed offsets.
CREATE TABLE deployments (
  usecase     text NOT NULL CHECK (usecase ~ '^[a-z][a-z0-9-]{0,62}$'),
  variant     text NOT NULL DEFAULT '' CHECK (variant ~ '^[A-Za-z0-9]{0,16}$'),
  generation  integer NOT NULL DEFAULT 1 CHECK (generation > 0),
  settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
  start_from  text NOT NULL DEFAULT 'earliest' CHECK (start_from ~ '^(earliest|latest|\d{13})$'),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'undeployed')),
  status_reason text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (usecase, variant)
);

-- An A/B experiment on a use case: which variants, and the share of customers (0–100) that receive
-- the treatment variant by deterministic hash of the customer id.
CREATE TABLE ab_experiments (
  usecase           text PRIMARY KEY,
  control_variant   text NOT NULL,
  treatment_variant text NOT NULL CHECK (treatment_variant <> control_variant),
  treatment_percent smallint NOT NULL DEFAULT 50 CHECK (treatment_percent BETWEEN 0 AND 100),
  salt              text NOT NULL DEFAULT '',
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Explicit per-customer overrides of the hash split.
CREATE TABLE ab_assignments (
  usecase     text NOT NULL REFERENCES ab_experiments (usecase) ON DELETE CASCADE,
  customer_id text NOT NULL REFERENCES customers (customer_id) ON DELETE CASCADE,
  variant     text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (usecase, customer_id)
);

-- Nightly runs and `reprocess`. At most one run is 'running' at a time (no overlapping runs).
CREATE TABLE batch_runs (
  run_id      uuid PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('nightly', 'reprocess')),
  from_day    date NOT NULL,
  to_day      date NOT NULL CHECK (to_day >= from_day),
  cutoff      timestamptz,
  status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  started_at  timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  stats       jsonb NOT NULL DEFAULT '{}'::jsonb,
  error       text
);
CREATE UNIQUE INDEX batch_runs_one_running ON batch_runs ((true)) WHERE status = 'running';
CREATE INDEX batch_runs_by_start ON batch_runs (started_at DESC);

-- Runs of `tributary migrate` (legacy PostgreSQL → Cassandra) and their per-table checkpoints.
CREATE TABLE migration_runs (
  run_id      uuid PRIMARY KEY,
  source      text NOT NULL,
  tables      text[] NOT NULL,
  from_day    date,
  to_day      date,
  status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  started_at  timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  stats       jsonb NOT NULL DEFAULT '{}'::jsonb,
  error       text
);
CREATE UNIQUE INDEX migration_runs_one_running ON migration_runs ((true)) WHERE status = 'running';

CREATE TABLE migration_checkpoints (
  run_id     uuid NOT NULL REFERENCES migration_runs (run_id) ON DELETE CASCADE,
  table_name text NOT NULL,
  last_key   text,
  rows_done  bigint NOT NULL DEFAULT 0,
  done       boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, table_name)
);
