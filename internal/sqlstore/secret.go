package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// Secret implements globalchat.SecretStore over the secrets table: fresh
// is inserted unless name is kept already, then what is kept is read. The
// insert is written so that both dialects accept it; when two instances
// race, the loser's insert fails on the primary key and its read returns
// the winner's secret.
func (r Reader) Secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if len(fresh) == 0 {
		return nil, errors.New("sqlstore: empty fresh secret")
	}
	ctx, cancel := r.Bound(ctx)
	defer cancel()
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
