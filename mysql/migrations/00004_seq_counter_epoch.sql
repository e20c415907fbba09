-- epoch counts the returns to Redis as the sequencer: an instance that
-- appends while Redis is away does so under the epoch it read when it
-- moved to the store, and the append is refused once another instance
-- has moved the cluster back to Redis, so no append can land in the seqs
-- Redis hands out after the return (see docs/operations.md).

-- +goose Up
ALTER TABLE seq_counter ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE seq_counter DROP COLUMN epoch;
