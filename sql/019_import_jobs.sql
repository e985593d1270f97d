-- Each import through the API is a job with an id that outlives its request: what it did is recorded in the
-- same transaction as its rows (a written import is never "committed but unreported"), and a retry with the
-- same Idempotency-Key is answered with the first outcome instead of importing again.
CREATE TABLE imports (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  layer            text NOT NULL,
  format           text NOT NULL,
  user_id          integer REFERENCES users (id) ON DELETE SET NULL,
  username         text NOT NULL,
  idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  -- running; written (committed); checked (a clean dry run); rejected (rows refused, nothing written);
  -- refused (the file or a parameter, nothing written); interrupted (the server stopped: rolled back);
  -- failed (the server's own error: rolled back)
  state            text NOT NULL DEFAULT 'running'
                   CHECK (state IN ('running', 'written', 'checked', 'rejected', 'refused', 'interrupted', 'failed')),
  -- the HTTP status and body the import answered with, replayed for a retry with the same key
  status           integer,
  answer           jsonb,
  started_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  UNIQUE (username, idempotency_key)
);
CREATE INDEX imports_started_idx ON imports (started_at);

-- The rows an import has written so far: it writes in batches, each its own transaction, so that other writes
-- wait for one batch, never for a whole file. If it cannot finish (a later batch refused, the server stopped
-- or died), these are deleted again; they are forgotten when its last batch commits.
CREATE TABLE import_rows (
  import_id  bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  row_id     integer NOT NULL
);
CREATE INDEX import_rows_import_idx ON import_rows (import_id);
