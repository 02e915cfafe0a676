DROP INDEX staff_users_by_created;
DROP INDEX api_tokens_by_created;
ALTER TABLE api_tokens DROP COLUMN last_used_at;
ALTER TABLE api_tokens DROP COLUMN expires_at;
