-- A message is stored once per (user_id, client_msg_id), enforced here and
-- not only by Redis's one-hour idempotency keys, which a Redis that is away
-- or lost its data does not hold. user_id compares byte for byte so that two
-- users whose ids differ only in case are two users.
--
-- seq_counter hands out seqs while Redis is away: the store is then the
-- sequencer of record, one row locked by every insert, so seqs are unique
-- and committed in seq order across instances (see docs/operations.md).
-- next is the next seq to hand out.

-- +goose Up
ALTER TABLE messages
    MODIFY user_id VARCHAR(128) COLLATE utf8mb4_bin NOT NULL,
    ADD UNIQUE KEY messages_client (user_id, client_msg_id);
CREATE TABLE seq_counter (
    id   TINYINT NOT NULL PRIMARY KEY,
    next BIGINT  NOT NULL
) ENGINE=InnoDB;
INSERT INTO seq_counter (id, next) SELECT 1, COALESCE(MAX(seq), 0) + 1 FROM messages;

-- +goose Down
DROP TABLE seq_counter;
ALTER TABLE messages
    DROP KEY messages_client,
    MODIFY user_id VARCHAR(128) COLLATE utf8mb4_unicode_ci NOT NULL;
