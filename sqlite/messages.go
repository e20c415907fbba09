package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/sqlstore"
)

// Save stores msgs and returns once they are committed. Concurrent Saves
// share one transaction. A message whose ID (or Seq) is already stored is
// skipped: the first copy stays.
func (s *Store) Save(ctx context.Context, msgs ...globalchat.Message) error {
	if err := s.batch.DoAll(ctx, msgs); err != nil {
		return wrap("save", err)
	}
	return nil
}

// commit writes one batch in one transaction; it is the batcher's commit
// function, so it runs on the single writer goroutine.
func (s *Store) commit(ctx context.Context, msgs []globalchat.Message) (err error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := insert(ctx, tx, msgs); err != nil {
		return err
	}
	return tx.Commit()
}

// insert adds msgs inside tx, skipping the ones already stored.
func insert(ctx context.Context, tx *sql.Tx, msgs []globalchat.Message) error {
	// ON CONFLICT DO NOTHING covers both unique keys, like MySQL's
	// duplicate-key handling: a retried message is stored once.
	stmt, err := tx.PrepareContext(ctx,
		"INSERT INTO messages ("+sqlstore.Columns+") VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, m := range msgs {
		var clientMsgID sql.NullString
		if m.ClientMsgID != "" {
			clientMsgID = sql.NullString{String: m.ClientMsgID, Valid: true}
		}
		if _, err := stmt.ExecContext(ctx, m.ID, m.Seq, m.UserID, m.Username, m.Content,
			clientMsgID, m.CreatedAt.UnixMilli()); err != nil {
			return fmt.Errorf("insert message %q: %w", m.ID, err)
		}
	}
	return nil
}

// newReader reads this store's rows.
func newReader(db *sql.DB) sqlstore.Reader {
	return sqlstore.Reader{DB: db, Timeout: opTimeout, Wrap: wrap, CreatedAt: func() (any, func() time.Time) {
		var ms int64
		return &ms, func() time.Time { return time.UnixMilli(ms) }
	}}
}
