-- epoch counts the returns to Redis as the sequencer (see the MySQL
-- migration of the same number).

-- +goose Up
ALTER TABLE seq_counter ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE seq_counter DROP COLUMN epoch;
