-- A message is stored once per (user_id, client_msg_id), enforced here and
-- not only by the bus's idempotency keys. seq_counter hands out seqs when
-- the store is the sequencer (Redis away); next is the next one to hand out.

-- +goose Up
CREATE UNIQUE INDEX messages_client ON messages (user_id, client_msg_id);
CREATE TABLE seq_counter (
    id   INTEGER NOT NULL PRIMARY KEY,
    next INTEGER NOT NULL
) STRICT;
INSERT INTO seq_counter (id, next) SELECT 1, COALESCE(MAX(seq), 0) + 1 FROM messages;

-- +goose Down
DROP TABLE seq_counter;
DROP INDEX messages_client;
