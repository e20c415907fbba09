-- Server secrets every instance shares and a restart keeps, e.g. the key
-- that signs guest tokens when GUEST_SECRET is not set. value is hex.

-- +goose Up
CREATE TABLE secrets (
    name  VARCHAR(64)  COLLATE utf8mb4_bin NOT NULL,
    value VARCHAR(256) NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- +goose Down
DROP TABLE secrets;
