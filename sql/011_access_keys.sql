-- Read-only access keys: a session a user opens for a GIS client (QGIS, GDAL reading /ogc and /tiles). It
-- signs the client in as the user, who reads what the user reads, but may only read (any other method is
-- refused by the access guard), lasts days rather than hours, and carries a label so the user can tell keys
-- apart and revoke one. Like every session, only the token's hash is stored, and a change of the user's
-- password, role or scope ends it.
ALTER TABLE sessions
  ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY,
  ADD COLUMN read_only boolean NOT NULL DEFAULT false,
  ADD COLUMN label text CHECK (char_length(label) BETWEEN 1 AND 100);
CREATE UNIQUE INDEX sessions_id_idx ON sessions (id);
CREATE INDEX sessions_read_only_idx ON sessions (user_id) WHERE read_only;
