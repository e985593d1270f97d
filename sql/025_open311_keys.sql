-- Open311 application keys: long-lived api_keys an admin issues to a client application (a city's service
-- app, a WeChat mini program), each allowed to post requests for some services (issue categories) only.
-- Unlike a session it belongs to no user: the application reports in its own name. Only the key's SHA-256
-- is kept; revoking keeps the row, so the audit log and the list say who had a key and when it ended.
CREATE TABLE open311_keys (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  token_hash  bytea NOT NULL UNIQUE,
  -- issue category codes; a category is never deleted (issues keep theirs), so a code here stays meaningful
  services    text[] NOT NULL CHECK (cardinality(services) > 0),
  created_by  integer REFERENCES users (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
SELECT audit_install('open311_keys');

-- When each key last posted: kept apart so that a use is no change in the audit log.
CREATE TABLE open311_key_uses (
  key_id        integer PRIMARY KEY REFERENCES open311_keys (id) ON DELETE CASCADE,
  last_used_at  timestamptz NOT NULL
);
