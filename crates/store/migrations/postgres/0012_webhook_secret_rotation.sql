-- A rotated-out webhook secret keeps signing deliveries (beside the new
-- one) until previous_secret_until, so receivers switch over without
-- refusing any (issue 28, docs/events.md).
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_until BIGINT;
