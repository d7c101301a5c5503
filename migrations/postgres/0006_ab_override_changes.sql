-- The per-customer overrides of the A/B snapshots (0005), kept as changes instead of copies. Each
-- snapshot held every override, so pinning n customers one `ab assign` at a time stored n²/2 of them
-- (and the delivery job held them all in memory). Now a snapshot holds the experiments and the deployed
-- variants, and ab_override_changes the overrides its change set (variant) or removed (NULL): the
-- overrides in effect at a snapshot are, per customer, its latest change at or before that snapshot.
-- Taken as the trigger takes it: a change whose snapshot is being computed commits before this one
-- reads the snapshots, and one that starts meanwhile waits for the new trigger.
SELECT pg_advisory_xact_lock(7346519);

CREATE TABLE ab_override_changes (
  snapshot_id bigint NOT NULL REFERENCES ab_snapshots (snapshot_id) ON DELETE CASCADE,
  usecase     text NOT NULL,
  customer_id text NOT NULL,
  variant     text,
  PRIMARY KEY (snapshot_id, usecase, customer_id)
);

-- The overrides as of the latest snapshot: what a change's delta is computed against.
CREATE TABLE ab_overrides_published (
  usecase     text NOT NULL,
  customer_id text NOT NULL,
  variant     text NOT NULL,
  PRIMARY KEY (usecase, customer_id)
);

-- The snapshots taken so far become the same: their overrides turn into changes, in order.
DO $$
DECLARE
  s record;
BEGIN
  FOR s IN SELECT snapshot_id, snapshot FROM ab_snapshots ORDER BY snapshot_id LOOP
    CREATE TEMP TABLE then_overrides ON COMMIT DROP AS
      SELECT o->>0 AS usecase, o->>1 AS customer_id, o->>2 AS variant
      FROM jsonb_array_elements(COALESCE(s.snapshot->'overrides', '[]'::jsonb)) o;
    INSERT INTO ab_override_changes (snapshot_id, usecase, customer_id, variant)
      SELECT s.snapshot_id, COALESCE(n.usecase, p.usecase), COALESCE(n.customer_id, p.customer_id), n.variant
      FROM then_overrides n
      FULL JOIN ab_overrides_published p ON p.usecase = n.usecase AND p.customer_id = n.customer_id
      WHERE n.variant IS DISTINCT FROM p.variant;
    DELETE FROM ab_overrides_published;
    INSERT INTO ab_overrides_published SELECT usecase, customer_id, variant FROM then_overrides;
    DROP TABLE then_overrides;
  END LOOP;
  UPDATE ab_snapshots SET snapshot = snapshot - 'overrides';
END
$$;

CREATE OR REPLACE FUNCTION ab_snapshot_of_now() RETURNS jsonb LANGUAGE sql VOLATILE AS $$
  SELECT jsonb_build_object(
    'experiments', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'usecase', usecase, 'control', control_variant, 'treatment', treatment_variant,
        'treatmentPercent', treatment_percent, 'salt', salt) ORDER BY usecase) FROM ab_experiments), '[]'::jsonb),
    'deployed', COALESCE((SELECT jsonb_object_agg(usecase, variants) FROM (
        SELECT usecase, jsonb_agg(variant ORDER BY variant COLLATE "C") AS variants FROM deployments
        WHERE status <> 'undeployed' GROUP BY usecase) d), '{}'::jsonb))
$$;

CREATE OR REPLACE FUNCTION ab_snapshot_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  current jsonb;
  overrides_changed boolean;
  added bigint;
  base bigint;
BEGIN
  -- One change at a time: each snapshot is computed after the previous one committed, so it sees it.
  PERFORM pg_advisory_xact_lock(7346519);
  current := ab_snapshot_of_now();
  overrides_changed := EXISTS (
    SELECT 1 FROM ab_assignments a
    FULL JOIN ab_overrides_published p ON p.usecase = a.usecase AND p.customer_id = a.customer_id
    WHERE a.variant IS DISTINCT FROM p.variant);
  IF overrides_changed OR current IS DISTINCT FROM (SELECT snapshot FROM ab_snapshots ORDER BY snapshot_id DESC LIMIT 1) THEN
    INSERT INTO ab_snapshots (effective_at, snapshot)
    VALUES (greatest(clock_timestamp() + interval '3 seconds',
                     (SELECT max(effective_at) FROM ab_snapshots)), current)
    RETURNING snapshot_id INTO added;
    IF overrides_changed THEN
      INSERT INTO ab_override_changes (snapshot_id, usecase, customer_id, variant)
        SELECT added, COALESCE(a.usecase, p.usecase), COALESCE(a.customer_id, p.customer_id), a.variant
        FROM ab_assignments a
        FULL JOIN ab_overrides_published p ON p.usecase = a.usecase AND p.customer_id = a.customer_id
        WHERE a.variant IS DISTINCT FROM p.variant;
      DELETE FROM ab_overrides_published p WHERE NOT EXISTS (
        SELECT 1 FROM ab_assignments a WHERE a.usecase = p.usecase AND a.customer_id = p.customer_id);
      INSERT INTO ab_overrides_published (usecase, customer_id, variant)
        SELECT usecase, customer_id, variant FROM ab_assignments
        ON CONFLICT (usecase, customer_id) DO UPDATE SET variant = EXCLUDED.variant
        WHERE ab_overrides_published.variant IS DISTINCT FROM EXCLUDED.variant;
    END IF;
    -- Snapshots superseded over 8 days ago are dropped, but for the newest of them (the base). The
    -- changes of the dropped ones still in effect at the base move to it; the others go.
    base := (SELECT max(snapshot_id) FROM ab_snapshots WHERE effective_at < now() - interval '8 days');
    IF base IS NOT NULL AND EXISTS (SELECT 1 FROM ab_snapshots WHERE snapshot_id < base) THEN
      DELETE FROM ab_override_changes c
      WHERE c.snapshot_id < base AND EXISTS (
        SELECT 1 FROM ab_override_changes l
        WHERE l.usecase = c.usecase AND l.customer_id = c.customer_id
          AND l.snapshot_id > c.snapshot_id AND l.snapshot_id <= base);
      DELETE FROM ab_override_changes WHERE snapshot_id <= base AND variant IS NULL;
      UPDATE ab_override_changes SET snapshot_id = base WHERE snapshot_id < base;
      DELETE FROM ab_snapshots WHERE snapshot_id < base;
    END IF;
  END IF;
  RETURN NULL;
END
$$;
