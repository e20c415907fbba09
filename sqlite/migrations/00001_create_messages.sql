-- The room's messages. seq is the room order given by the Bus; id is the
-- message's own identity, on which Save is idempotent. created_at is in
-- Unix milliseconds (UTC), so that no driver time format is involved.

-- +goose Up
CREATE TABLE messages (
    id            TEXT    NOT NULL PRIMARY KEY,
    seq           INTEGER NOT NULL UNIQUE,
    user_id       TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    content       TEXT    NOT NULL,
    client_msg_id TEXT,
    created_at    INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE messages;
