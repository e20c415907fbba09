package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/globalchat/globalchat"
)

// maxLimit caps one page, so that a caller's large limit cannot load the
// whole table into memory.
const maxLimit = 10000

const columns = "id, seq, user_id, username, content, client_msg_id, created_at"

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
		"INSERT INTO messages ("+columns+") VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
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

// Before returns up to limit messages with Seq < before (before <= 0: from
// the newest), oldest first.
func (s *Store) Before(ctx context.Context, before int64, limit int) ([]globalchat.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	// Newest first to take the last page, then reversed in Go.
	msgs, err := s.query(ctx, "SELECT "+columns+" FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?",
		before, min(limit, maxLimit))
	if err != nil {
		return nil, wrap("before", err)
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs, nil
}

// After returns up to limit messages with Seq > after, oldest first.
func (s *Store) After(ctx context.Context, after int64, limit int) ([]globalchat.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	msgs, err := s.query(ctx, "SELECT "+columns+" FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
		after, min(limit, maxLimit))
	if err != nil {
		return nil, wrap("after", err)
	}
	return msgs, nil
}

// LastSeq returns the highest stored Seq, 0 when the store is empty.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var seq int64
	if err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM messages").Scan(&seq); err != nil {
		return 0, wrap("last seq", err)
	}
	return seq, nil
}

// query runs a SELECT of columns and scans its rows.
func (s *Store) query(ctx context.Context, query string, args ...any) ([]globalchat.Message, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msgs []globalchat.Message
	for rows.Next() {
		var (
			m           globalchat.Message
			clientMsgID sql.NullString
			createdAt   int64
		)
		if err := rows.Scan(&m.ID, &m.Seq, &m.UserID, &m.Username, &m.Content, &clientMsgID, &createdAt); err != nil {
			return nil, err
		}
		m.ClientMsgID = clientMsgID.String
		m.CreatedAt = time.UnixMilli(createdAt).UTC()
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}
