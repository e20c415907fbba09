package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/globalchat/globalchat"
)

// Writer holds what the SQL stores share on the write side: checking a
// batch that did not insert every row, and the store as sequencer
// (globalchat.Sequencer) while Redis is away.
type Writer struct {
	Reader
	// LockCounter is the dialect's query of seq_counter's next and epoch
	// that locks its row until the transaction ends (serializing appends,
	// fences and returns across instances): SELECT ... FOR UPDATE in
	// MySQL; SQLite's write transaction already holds the database.
	LockCounter string
	// Insert stores msgs inside tx; a taken key is an error.
	Insert func(ctx context.Context, tx *sql.Tx, msgs []globalchat.Message) error
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
func (w Writer) Append(ctx context.Context, epoch int64, msgs ...globalchat.Message) ([]globalchat.Appended, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	var out []globalchat.Appended
	err := w.counterTx(ctx, "append", func(tx *sql.Tx, c *counter) error {
		if c.epoch != epoch {
			return globalchat.ErrMovedBack
		}
		var err error
		out, err = w.appendLocked(ctx, tx, c, msgs)
		return err
	})
	return out, err
}

// appendLocked stores msgs with the counter's row locked.
func (w Writer) appendLocked(ctx context.Context, tx *sql.Tx, c *counter, msgs []globalchat.Message) ([]globalchat.Appended, error) {
	known, err := w.stored(ctx, tx, msgs)
	if err != nil {
		return nil, err
	}
	out := make([]globalchat.Appended, len(msgs))
	fresh := make([]globalchat.Message, 0, len(msgs))
	for i, m := range msgs {
		if first, ok := known.find(m); ok {
			out[i] = globalchat.Appended{Message: first, Duplicate: true}
			continue
		}
		m.Seq, c.next = c.next, c.next+1
		known.add(m)
		fresh = append(fresh, m)
		out[i] = globalchat.Appended{Message: m}
	}
	if len(fresh) > 0 {
		if err := w.Insert(ctx, tx, fresh); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Fence implements globalchat.Sequencer.
func (w Writer) Fence(ctx context.Context, next int64) (seq, epoch int64, err error) {
	err = w.counterTx(ctx, "fence", func(tx *sql.Tx, c *counter) error {
		last, err := w.maxSeq(ctx, tx)
		c.next = max(c.next, next, last+1)
		seq, epoch = c.next, c.epoch
		return err
	})
	return seq, epoch, err
}

// Return implements globalchat.Sequencer.
func (w Writer) Return(ctx context.Context, epoch, gap int64) (from int64, err error) {
	err = w.counterTx(ctx, "return", func(tx *sql.Tx, c *counter) error {
		if c.epoch != epoch {
			return nil // another instance moved back already
		}
		last, err := w.maxSeq(ctx, tx)
		from = max(c.next, last+1)
		c.next, c.epoch = from+gap, c.epoch+1
		return err
	})
	return from, err
}

// counter is seq_counter's row.
type counter struct{ next, epoch int64 }

// counterTx runs f in a transaction holding seq_counter's row, and writes
// the row back if f changed it; f's error rolls everything back.
func (w Writer) counterTx(ctx context.Context, op string, f func(*sql.Tx, *counter) error) error {
	ctx, cancel := w.Bound(ctx)
	defer cancel()
	tx, err := w.DB.BeginTx(ctx, nil)
	if err != nil {
		return w.Wrap(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	var c counter
	if err := tx.QueryRowContext(ctx, w.LockCounter).Scan(&c.next, &c.epoch); err != nil {
		return w.Wrap(op, fmt.Errorf("seq_counter: %w", err))
	}
	was := c
	if err := f(tx, &c); err != nil {
		if errors.Is(err, globalchat.ErrMovedBack) {
			return err
		}
		return w.Wrap(op, err)
	}
	if c != was {
		if _, err := tx.ExecContext(ctx, "UPDATE seq_counter SET next = ?, epoch = ? WHERE id = 1", c.next, c.epoch); err != nil {
			return w.Wrap(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return w.Wrap(op, err)
	}
	return nil
}

// maxSeq returns the highest stored seq, 0 when none.
func (w Writer) maxSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM messages").Scan(&last)
	return last, err
}

// stored returns the stored messages that share an id or a (user, client
// id) with one of msgs.
func (w Writer) stored(ctx context.Context, tx *sql.Tx, msgs []globalchat.Message) (known, error) {
	var q strings.Builder
	args := make([]any, 0, 3*len(msgs))
	q.WriteString("SELECT " + Columns + " FROM messages WHERE id IN (?" + strings.Repeat(",?", len(msgs)-1) + ")")
	for _, m := range msgs {
		args = append(args, m.ID)
	}
	for _, m := range msgs {
		if m.ClientMsgID != "" {
			q.WriteString(" OR (user_id = ? AND client_msg_id = ?)")
			args = append(args, m.UserID, m.ClientMsgID)
		}
	}
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return known{}, err
	}
	found, err := w.scan(rows)
	if err != nil {
		return known{}, err
	}
	k := known{byID: map[string]globalchat.Message{}, byClient: map[[2]string]globalchat.Message{}}
	for _, m := range found {
		k.add(m)
	}
	return k, nil
}

// known indexes messages by id and by (user, client id).
type known struct {
	byID     map[string]globalchat.Message
	byClient map[[2]string]globalchat.Message
}

func (k known) add(m globalchat.Message) {
	k.byID[m.ID] = m
	if m.ClientMsgID != "" {
		k.byClient[[2]string{m.UserID, m.ClientMsgID}] = m
	}
}

func (k known) find(m globalchat.Message) (globalchat.Message, bool) {
	if first, ok := k.byID[m.ID]; ok {
		return first, true
	}
	if m.ClientMsgID == "" {
		return globalchat.Message{}, false
	}
	first, ok := k.byClient[[2]string{m.UserID, m.ClientMsgID}]
	return first, ok
}
