-- Server secrets every instance shares and a restart keeps, e.g. the key
-- that signs guest tokens when GUEST_SECRET is not set. value is hex.

-- +goose Up
CREATE TABLE secrets (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE secrets;
