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
// share one transaction. A message already stored (same id, same seq) is
// skipped; one whose seq or (user, client id) another message holds fails
// with globalchat.ErrConflict.
func (s *Store) Save(ctx context.Context, msgs ...globalchat.Message) error {
	if err := sqlstore.Save(ctx, s.batch, msgs); err != nil {
		return wrap("save", err)
	}
	return nil
}

// commit writes one batch in one transaction; it is the batcher's commit
// function, so it runs on the single writer goroutine.
func (s *Store) commit(ctx context.Context, reqs []*sqlstore.SaveRequest) (err error) {
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
	if err := s.insert(ctx, tx, reqs); err != nil {
		return err
	}
	return tx.Commit()
}

// insert adds the messages of reqs inside tx; a row skipped (a key taken)
// is checked: a retry of a stored message is fine, a conflict is not.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, reqs []*sqlstore.SaveRequest) error {
	// ON CONFLICT DO NOTHING covers every unique key, like MySQL's
	// duplicate-key handling.
	stmt, err := tx.PrepareContext(ctx, insertStatement+" ON CONFLICT DO NOTHING")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range reqs {
		res, err := stmt.ExecContext(ctx, row(r.Msg)...)
		if err != nil {
			return fmt.Errorf("insert message %q: %w", r.Msg.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			errs, err := s.Check(ctx, tx, []globalchat.Message{r.Msg})
			if err != nil {
				return err
			}
			r.Err = errs[0]
		}
	}
	return nil
}

const insertStatement = "INSERT INTO messages (" + sqlstore.Columns + ") VALUES (?, ?, ?, ?, ?, ?, ?)"

// row is m's column values.
func row(m globalchat.Message) []any {
	var clientMsgID sql.NullString
	if m.ClientMsgID != "" {
		clientMsgID = sql.NullString{String: m.ClientMsgID, Valid: true}
	}
	return []any{m.ID, m.Seq, m.UserID, m.Username, m.Content, clientMsgID, m.CreatedAt.UnixMilli()}
}

// newWriter reads and appends this store's rows.
func newWriter(db *sql.DB) sqlstore.Writer {
	return sqlstore.Writer{
		Reader: sqlstore.Reader{DB: db, Timeout: opTimeout, Wrap: wrap, CreatedAt: func() (any, func() time.Time) {
			var ms int64
			return &ms, func() time.Time { return time.UnixMilli(ms) }
		}},
		// The write transaction (BEGIN IMMEDIATE) holds the database.
		LockCounter: "SELECT next, epoch FROM seq_counter WHERE id = 1",
		Insert: func(ctx context.Context, tx *sql.Tx, msgs []globalchat.Message) error {
			for _, m := range msgs {
				if _, err := tx.ExecContext(ctx, insertStatement, row(m)...); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
