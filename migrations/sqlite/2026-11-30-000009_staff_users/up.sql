-- Staff who sign in to the web pages: one role each, a PBKDF2 password hash (never the
-- password), the failed-attempt count behind lock-out, and server-side sessions that sign-out
-- revokes.
CREATE TABLE staff_users (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('clerk', 'finance', 'supervisor', 'auditor', 'treasury', 'admin')),
    password_hash BLOB NOT NULL CHECK (length(password_hash) = 32),
    salt          BLOB NOT NULL CHECK (length(salt) = 16),
    iterations    BIGINT NOT NULL CHECK (iterations >= 1),
    failures      BIGINT NOT NULL DEFAULT 0,
    locked_until  TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    created_by    TEXT NOT NULL,
    disabled_at   TIMESTAMP
);

CREATE TABLE staff_sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES staff_users (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX staff_sessions_by_user ON staff_sessions (user_id);
