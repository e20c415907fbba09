-- The room's messages. seq is the room order given by the Bus; id is the
-- message's own identity, on which Save is idempotent. Text is utf8mb4 so
-- that emoji are stored as sent; identifiers compare byte for byte (bin), not
-- case-insensitively; created_at is UTC with milliseconds.

-- +goose Up
CREATE TABLE messages (
    id            VARCHAR(40)  COLLATE utf8mb4_bin NOT NULL,
    seq           BIGINT       NOT NULL,
    user_id       VARCHAR(128) NOT NULL,
    username      VARCHAR(64)  NOT NULL,
    content       TEXT         NOT NULL,
    client_msg_id VARCHAR(64)  COLLATE utf8mb4_bin NULL,
    created_at    DATETIME(3)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY messages_seq (seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE messages;
