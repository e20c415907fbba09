package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Secret implements globalchat.SecretStore over the secrets table: fresh
// is inserted unless name is kept already, then what is kept is read. The
// insert is written so that both dialects accept it; when two instances
// race, the loser's insert fails on the primary key (or, in InnoDB, on a
// deadlock between the two inserts' gap locks) and its read, or its next
// try, returns the winner's secret.
func (r Reader) Secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if len(fresh) == 0 {
		return nil, errors.New("sqlstore: empty fresh secret")
	}
	ctx, cancel := r.Bound(ctx)
	defer cancel()
	var err error
	for try := range secretTries {
		var kept []byte
		if kept, err = r.secret(ctx, name, fresh); err == nil {
			return kept, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(try+1) * 20 * time.Millisecond):
		}
	}
	return nil, err
}

// secretTries bounds the tries of instances racing to keep a secret.
const secretTries = 5

func (r Reader) secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	_, insertErr := r.DB.ExecContext(ctx,
		"INSERT INTO secrets (name, value) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM secrets WHERE name = ?)",
		name, hex.EncodeToString(fresh), name)
	var kept string
	err := r.DB.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&kept)
	switch {
	case errors.Is(err, sql.ErrNoRows) && insertErr != nil:
		return nil, r.Wrap("secret", insertErr)
	case err != nil:
		return nil, r.Wrap("secret", err)
	}
	b, err := hex.DecodeString(kept)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("sqlstore: secret %q is not hex: %w", name, err)
	}
	return b, nil
}
