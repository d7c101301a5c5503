-- What decides which variant a customer receives — experiments, per-customer overrides and the
-- deployed (not undeployed) variants of each use case — as a history of snapshots, each applying to
-- the records ingested from its effective_at on. The delivery job decides a finding by the snapshot
-- in effect when its record was ingested, so that handling a finding again (a replay after a crash)
-- decides it the same way even if the assignments changed meanwhile: a customer never receives two
-- variants' findings of the same record.
--
-- A snapshot takes effect 3 s after the change that made it (the delivery job loads it within 1 s of
-- its commit, well before any record it applies to reaches it); `ab set`, `ab assign`, `deploy` and
-- `undeploy` return once their change is in effect. Kept 8 days back (longer than the findings topic
-- keeps findings to replay), plus the newest older one.
CREATE TABLE ab_snapshots (
  snapshot_id  bigserial PRIMARY KEY,
  effective_at timestamptz NOT NULL,
  snapshot     jsonb NOT NULL CHECK (jsonb_typeof(snapshot) = 'object')
);

CREATE FUNCTION ab_snapshot_of_now() RETURNS jsonb LANGUAGE sql VOLATILE AS $$
  SELECT jsonb_build_object(
    'experiments', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'usecase', usecase, 'control', control_variant, 'treatment', treatment_variant,
        'treatmentPercent', treatment_percent, 'salt', salt) ORDER BY usecase) FROM ab_experiments), '[]'::jsonb),
    'overrides', COALESCE((SELECT jsonb_agg(jsonb_build_array(usecase, customer_id, variant)
        ORDER BY usecase, customer_id) FROM ab_assignments), '[]'::jsonb),
    'deployed', COALESCE((SELECT jsonb_object_agg(usecase, variants) FROM (
        SELECT usecase, jsonb_agg(variant ORDER BY variant COLLATE "C") AS variants FROM deployments
        WHERE status <> 'undeployed' GROUP BY usecase) d), '{}'::jsonb))
$$;

CREATE FUNCTION ab_snapshot_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  current jsonb;
BEGIN
  -- One change at a time: each snapshot is computed after the previous one committed, so it sees it.
  PERFORM pg_advisory_xact_lock(7346519);
  current := ab_snapshot_of_now();
  IF current IS DISTINCT FROM (SELECT snapshot FROM ab_snapshots ORDER BY snapshot_id DESC LIMIT 1) THEN
    INSERT INTO ab_snapshots (effective_at, snapshot)
    VALUES (greatest(clock_timestamp() + interval '3 seconds',
                     (SELECT max(effective_at) FROM ab_snapshots)), current);
    DELETE FROM ab_snapshots
    WHERE effective_at < now() - interval '8 days'
      AND snapshot_id < (SELECT max(snapshot_id) FROM ab_snapshots WHERE effective_at < now() - interval '8 days');
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER ab_experiments_snapshot AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ab_experiments
  FOR EACH STATEMENT EXECUTE FUNCTION ab_snapshot_changed();
CREATE TRIGGER ab_assignments_snapshot AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ab_assignments
  FOR EACH STATEMENT EXECUTE FUNCTION ab_snapshot_changed();
CREATE TRIGGER deployments_snapshot AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON deployments
  FOR EACH STATEMENT EXECUTE FUNCTION ab_snapshot_changed();

-- What was in place before this migration applies to every record ingested before it.
INSERT INTO ab_snapshots (effective_at, snapshot) VALUES ('-infinity', ab_snapshot_of_now());
