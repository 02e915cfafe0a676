-- Token lifecycle (DESIGN §7, API.md: tokens): a token may expire, and the list shows when each
-- was last used (written at most once a minute per token per instance, never per request).
-- Revocation already has `revoked_at`; staff users already have `disabled_at`.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE api_tokens ADD COLUMN last_used_at TIMESTAMP;
-- The token list pages in creation order.
CREATE INDEX api_tokens_by_created ON api_tokens (created_at, id);
-- The users list pages in creation order.
CREATE INDEX staff_users_by_created ON staff_users (created_at, id);
