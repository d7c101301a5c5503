-- The legacy store `tributary migrate` reads (the seed team's PostgreSQL schema, unchanged), so that
-- demos and tests can fill one, and what `migrate` adds to the control plane's migration tables.
-- `migrate --source URL` reads these three tables wherever they live; nothing else is required there.

CREATE TABLE legacy_customers (
  customer_id text PRIMARY KEY,
  name        text NOT NULL,
  settings    jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL
);

CREATE TABLE legacy_records (
  id          bigserial PRIMARY KEY,
  customer_id text NOT NULL,
  record_id   text NOT NULL,
  event_time  timestamptz NOT NULL,
  account_id  text NOT NULL,
  amount      numeric(18,2) NOT NULL,
  currency    char(3) NOT NULL,
  category    text NOT NULL,
  country     char(2) NOT NULL,
  merchant    text,
  attributes  jsonb NOT NULL DEFAULT '{}',
  inserted_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (customer_id, record_id)
);

CREATE TABLE legacy_findings (
  id          bigserial PRIMARY KEY,
  customer_id text NOT NULL,
  usecase     text NOT NULL,
  record_ids  text[] NOT NULL,
  code        text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL
);

-- Per-table counters of a run, next to the resume point (last_key) and rows_done (rows read).
ALTER TABLE migration_checkpoints
  ADD COLUMN rows_written  bigint NOT NULL DEFAULT 0,
  ADD COLUMN rows_rejected bigint NOT NULL DEFAULT 0;

-- Rows a run could not move: 'convert' (the value cannot be represented exactly or breaks the record
-- contract) or 'write' (Cassandra refused it). Keyed by the legacy primary key, so a resumed run that
-- meets the same row again records it once. Verification excludes these rows from the expected side.
CREATE TABLE migration_rejects (
  run_id      uuid NOT NULL REFERENCES migration_runs (run_id) ON DELETE CASCADE,
  table_name  text NOT NULL,
  row_key     text NOT NULL,
  natural_key text NOT NULL,
  stage       text NOT NULL CHECK (stage IN ('convert', 'write')),
  reason      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, table_name, row_key)
);
