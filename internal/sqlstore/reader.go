// Package sqlstore holds the read side that the SQL message stores
// (sqlite, mysql) share: the same queries over the same columns, differing
// only in how created_at is stored. A store embeds a Reader, whose Wrap
// classifies the store's driver errors.
package sqlstore

import (
	"context"
	"database/sql"
	"math"
	"time"

	"github.com/globalchat/globalchat"
)

// Columns of the messages table, in the order rows are scanned.
const Columns = "id, seq, user_id, username, content, client_msg_id, created_at"

// MaxLimit caps one page, so that a caller's large limit cannot load the
// whole table into memory.
const MaxLimit = 10000

// Reader reads messages.
type Reader struct {
	DB      *sql.DB
	Timeout time.Duration // bounds a call whose context has no deadline
	// CreatedAt returns where to scan created_at and how to read the time
	// from it (SQLite keeps milliseconds, MySQL a DATETIME).
	CreatedAt func() (dest any, get func() time.Time)
	// Wrap names the operation and classifies a driver error (e.g. as
	// globalchat.ErrUnavailable).
	Wrap func(op string, err error) error
}

// Before implements globalchat.MessageStore: up to limit messages with
// Seq < before (before <= 0: from the newest), oldest first.
func (r Reader) Before(ctx context.Context, before int64, limit int) ([]globalchat.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	// Newest first to take the last page, then reversed.
	msgs, err := r.query(ctx, "SELECT "+Columns+" FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?",
		before, min(limit, MaxLimit))
	if err != nil {
		return nil, r.Wrap("before", err)
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs, nil
}

// After implements globalchat.MessageStore: up to limit messages with
// Seq > after, oldest first.
func (r Reader) After(ctx context.Context, after int64, limit int) ([]globalchat.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	msgs, err := r.query(ctx, "SELECT "+Columns+" FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
		after, min(limit, MaxLimit))
	if err != nil {
		return nil, r.Wrap("after", err)
	}
	return msgs, nil
}

// LastSeq implements globalchat.MessageStore: the highest stored Seq, 0
// when the table is empty.
func (r Reader) LastSeq(ctx context.Context) (int64, error) {
	ctx, cancel := r.Bound(ctx)
	defer cancel()
	var seq int64
	if err := r.DB.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM messages").Scan(&seq); err != nil {
		return 0, r.Wrap("last seq", err)
	}
	return seq, nil
}

// Ping implements globalchat.MessageStore: whether the database answers.
func (r Reader) Ping(ctx context.Context) error {
	ctx, cancel := r.Bound(ctx)
	defer cancel()
	if err := r.DB.PingContext(ctx); err != nil {
		return r.Wrap("ping", err)
	}
	return nil
}

// query runs a SELECT of Columns and scans its rows.
func (r Reader) query(ctx context.Context, query string, args ...any) ([]globalchat.Message, error) {
	ctx, cancel := r.Bound(ctx)
	defer cancel()
	rows, err := r.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return r.scan(rows)
}

// scan reads rows of Columns and closes them.
func (r Reader) scan(rows *sql.Rows) ([]globalchat.Message, error) {
	defer rows.Close()
	var msgs []globalchat.Message
	for rows.Next() {
		var (
			m           globalchat.Message
			clientMsgID sql.NullString
		)
		created, get := r.CreatedAt()
		if err := rows.Scan(&m.ID, &m.Seq, &m.UserID, &m.Username, &m.Content, &clientMsgID, created); err != nil {
			return nil, err
		}
		m.ClientMsgID = clientMsgID.String
		m.CreatedAt = get().UTC()
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// Bound gives ctx the Reader's timeout unless it already has a deadline.
func (r Reader) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || r.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, r.Timeout)
}
