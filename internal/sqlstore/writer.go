package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/globalchat/globalchat"
)

// Writer holds what the SQL stores share on the write side: checking a
// batch that did not insert every row, and the store as sequencer
// (globalchat.Sequencer) while Redis is away.
type Writer struct {
	Reader
	// TakeSeq hands out the next seq of seq_counter inside tx (the row
	// lock it takes serializes appends across instances).
	TakeSeq func(ctx context.Context, tx *sql.Tx) (int64, error)
	// Insert stores one message inside tx.
	Insert func(ctx context.Context, tx *sql.Tx, m globalchat.Message) error
	// Greatest is the dialect's n-ary maximum: GREATEST (MySQL), MAX (SQLite).
	Greatest string
}

// Check returns, for each of msgs, nil when the store holds it (its id
// with its seq), or an error wrapping globalchat.ErrConflict when another
// message holds its seq or its (user, client id), or its id is stored
// with another seq. The stores call it when an idempotent insert skipped
// rows, to tell a retry (fine) from a conflict (never silent).
func (w Writer) Check(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, msgs []globalchat.Message) ([]error, error) {
	ids := make([]any, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	rows, err := q.QueryContext(ctx, "SELECT id, seq FROM messages WHERE id IN (?"+
		strings.Repeat(",?", len(ids)-1)+")", ids...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	stored := make(map[string]int64, len(msgs))
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, err
		}
		stored[id] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		seq, ok := stored[m.ID]
		switch {
		case !ok:
			errs[i] = fmt.Errorf("message %s: seq %d or client id %q held by another message: %w",
				m.ID, m.Seq, m.ClientMsgID, globalchat.ErrConflict)
		case seq != m.Seq:
			errs[i] = fmt.Errorf("message %s: stored with seq %d, not %d: %w", m.ID, seq, m.Seq, globalchat.ErrConflict)
		}
	}
	return errs, nil
}

// Append implements globalchat.Sequencer.
func (w Writer) Append(ctx context.Context, m globalchat.Message) (globalchat.Message, bool, error) {
	ctx, cancel := w.Bound(ctx)
	defer cancel()
	stored, dup, err := w.append(ctx, m)
	if err != nil {
		return globalchat.Message{}, false, w.Wrap("append", err)
	}
	return stored, dup, nil
}

func (w Writer) append(ctx context.Context, m globalchat.Message) (_ globalchat.Message, _ bool, err error) {
	tx, err := w.DB.BeginTx(ctx, nil)
	if err != nil {
		return m, false, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// The counter's row lock first: it serializes appends, so the lookup
	// below sees every append committed before this one.
	if m.Seq, err = w.TakeSeq(ctx, tx); err != nil {
		return m, false, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+Columns+" FROM messages WHERE id = ? OR (user_id = ? AND client_msg_id = ?) LIMIT 1",
		m.ID, m.UserID, m.ClientMsgID)
	if err != nil {
		return m, false, err
	}
	found, err := w.scan(rows)
	if err != nil {
		return m, false, err
	}
	if len(found) > 0 {
		// The rollback gives the seq taken back.
		return found[0], true, tx.Rollback()
	}
	if err := w.Insert(ctx, tx, m); err != nil {
		return m, false, err
	}
	return m, false, tx.Commit()
}

// Fence implements globalchat.Sequencer.
func (w Writer) Fence(ctx context.Context, next int64) (int64, error) {
	ctx, cancel := w.Bound(ctx)
	defer cancel()
	_, err := w.DB.ExecContext(ctx, "UPDATE seq_counter SET next = "+w.Greatest+
		"(next, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages)) WHERE id = 1", next)
	if err != nil {
		return 0, w.Wrap("fence", err)
	}
	var got int64
	if err := w.DB.QueryRowContext(ctx, "SELECT next FROM seq_counter WHERE id = 1").Scan(&got); err != nil {
		return 0, w.Wrap("fence", err)
	}
	return got, nil
}
