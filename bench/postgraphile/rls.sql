-- Passerelle's row rules for the requests, dispatches and patients, as
-- PostgreSQL row-level security, for the "rls" variant of the PostGraphile
-- peer (server.js applies this file when that variant is on).
--
-- BENCH COPIES ONLY. It changes the database it runs on: a cluster-wide
-- NOLOGIN role passerelle_peer, a schema passerelle_peer with functions, and
-- ROW LEVEL SECURITY enabled on admission_requests, dispatches and patients
-- with one SELECT policy each for that role. Passerelle itself connects as
-- the tables' owner (or a superuser) and is not affected, but nothing here
-- belongs in a product database. Idempotent.
--
-- The viewer is the session of the bearer token, as in auth.Authenticate:
-- the peer's pgSettings put the SHA-256 of the token (hex) into the
-- transaction-local setting passerelle.token_hash and switch to the role
-- passerelle_peer; the functions below (SECURITY DEFINER, so they read the
-- sessions as the owner) turn it into the viewer's scopes. The policies are
-- ent/schema/rule/rule.go's RequestVisible, DispatchVisible and Patients:
--   request:  requesting side of its origin structure (or origin unit, for
--             a unit-scoped habilitation), or receivers of a unit it was
--             dispatched to;
--   dispatch: receivers of its unit, or the requesting side of its request;
--   patient:  visible with a visible request.
-- Session checks: not revoked, not expired, not idle for 30 min, account
-- enabled, password younger than 183 days (demo accounts pass: the
-- generated accounts are demo accounts, and the server they are compared
-- with runs in demo mode, which lets them sign in);
-- habilitations valid now and not revoked. Unlike auth.Authenticate it
-- never writes sessions.last_seen_at (it cannot: read-only queries).

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'passerelle_peer') THEN
    CREATE ROLE passerelle_peer NOLOGIN;
  END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS passerelle_peer;
REVOKE ALL ON SCHEMA passerelle_peer FROM PUBLIC;
GRANT USAGE ON SCHEMA passerelle_peer TO passerelle_peer;
GRANT USAGE ON SCHEMA public TO passerelle_peer;
GRANT SELECT ON admission_requests, dispatches, patients TO passerelle_peer;

-- The habilitations of the viewer of this transaction, valid now.
CREATE OR REPLACE FUNCTION passerelle_peer.viewer_habilitations()
RETURNS TABLE (profile text, structure_id uuid, unit_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT h.profile, h.structure_id, h.unit_id
  FROM sessions s
  JOIN users u ON u.id = s.user_id
  JOIN habilitations h ON h.user_id = s.user_id
  WHERE s.token_hash = decode(nullif(current_setting('passerelle.token_hash', true), ''), 'hex')
    AND s.revoked_at IS NULL
    AND s.expires_at > now()
    AND s.last_seen_at > now() - interval '30 minutes'
    AND NOT u.disabled
    AND u.password_changed_at > now() - interval '183 days'
    AND h.valid_from <= now() AND h.valid_until > now() AND h.revoked_at IS NULL
$$;

-- USP units the viewer receives for: unit-scoped receiving habilitations,
-- and every USP unit of a structure for structure-wide ones.
CREATE OR REPLACE FUNCTION passerelle_peer.receiving_units()
RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH h AS (
    SELECT * FROM passerelle_peer.viewer_habilitations()
    WHERE profile IN ('RECEIVER_PHYSICIAN', 'RECEIVER_STAFF')
  )
  SELECT coalesce(array_agg(DISTINCT id), '{}') FROM (
    SELECT unit_id AS id FROM h WHERE unit_id IS NOT NULL
    UNION
    SELECT un.id FROM h JOIN units un ON un.structure_id = h.structure_id
    WHERE h.unit_id IS NULL AND un.kind = 'USP'
  ) x
$$;

-- Structures the viewer requests for (structure-wide habilitations).
CREATE OR REPLACE FUNCTION passerelle_peer.requesting_structures()
RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce(array_agg(DISTINCT structure_id), '{}')
  FROM passerelle_peer.viewer_habilitations()
  WHERE unit_id IS NULL AND profile IN ('PRESCRIBER_PHYSICIAN', 'CARE_TEAM', 'ADMIN_SOCIAL_MANAGER',
    'COORDINATING_PHYSICIAN', 'NON_MEDICAL_MANAGER', 'LIBERAL_PHYSICIAN')
$$;

-- Units the viewer requests for (unit-scoped habilitations).
CREATE OR REPLACE FUNCTION passerelle_peer.requesting_units()
RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce(array_agg(DISTINCT unit_id), '{}')
  FROM passerelle_peer.viewer_habilitations()
  WHERE unit_id IS NOT NULL AND profile IN ('PRESCRIBER_PHYSICIAN', 'CARE_TEAM', 'ADMIN_SOCIAL_MANAGER',
    'COORDINATING_PHYSICIAN', 'NON_MEDICAL_MANAGER', 'LIBERAL_PHYSICIAN')
$$;

-- Whether the viewer is on the requesting side of a request. A function
-- (as the owner) so that the dispatch policy does not read
-- admission_requests under its policy, which reads dispatches: PostgreSQL
-- refuses such cycles.
CREATE OR REPLACE FUNCTION passerelle_peer.requests_for(request uuid, structures uuid[], units uuid[])
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM admission_requests r
    WHERE r.id = request
      AND (r.origin_structure_id = ANY (structures) OR r.origin_unit_id = ANY (units))
  )
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA passerelle_peer FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA passerelle_peer TO passerelle_peer;

ALTER TABLE admission_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE dispatches ENABLE ROW LEVEL SECURITY;
ALTER TABLE patients ENABLE ROW LEVEL SECURITY;

-- Each (SELECT f()) is an uncorrelated subquery: computed once per
-- statement (an InitPlan), not once per row.
DROP POLICY IF EXISTS passerelle_peer_read ON admission_requests;
CREATE POLICY passerelle_peer_read ON admission_requests FOR SELECT TO passerelle_peer USING (
  origin_structure_id = ANY ((SELECT passerelle_peer.requesting_structures())::uuid[])
  OR origin_unit_id = ANY ((SELECT passerelle_peer.requesting_units())::uuid[])
  OR EXISTS (
    SELECT 1 FROM dispatches d
    WHERE d.request_id = admission_requests.id
      AND d.unit_id = ANY ((SELECT passerelle_peer.receiving_units())::uuid[])
  )
);

DROP POLICY IF EXISTS passerelle_peer_read ON dispatches;
CREATE POLICY passerelle_peer_read ON dispatches FOR SELECT TO passerelle_peer USING (
  unit_id = ANY ((SELECT passerelle_peer.receiving_units())::uuid[])
  OR (
    cardinality((SELECT passerelle_peer.requesting_structures())) + cardinality((SELECT passerelle_peer.requesting_units())) > 0
    AND passerelle_peer.requests_for(request_id, (SELECT passerelle_peer.requesting_structures()),
      (SELECT passerelle_peer.requesting_units()))
  )
);

DROP POLICY IF EXISTS passerelle_peer_read ON patients;
CREATE POLICY passerelle_peer_read ON patients FOR SELECT TO passerelle_peer USING (
  EXISTS (SELECT 1 FROM admission_requests r WHERE r.patient_id = patients.id)
);
