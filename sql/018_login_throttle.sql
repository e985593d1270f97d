-- Sign-in throttling (server/features/accounts/queries.ts, countAttempt): every attempt first forgets the
-- failures older than the window, whatever their account or address; found by time, not by reading the table.
CREATE INDEX login_failures_at_idx ON login_failures (at);
