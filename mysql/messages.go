package mysql

import (
	"context"
	"database/sql"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/sqlstore"
)

// maxStatement is the most text (roughly) in one INSERT: well under the
// servers' default max_allowed_packet (16 MiB on MariaDB), so that a batch
// of long messages is split rather than refused.
const maxStatement = 4 << 20

// The column limits of the schema, checked before a message joins a
// batch: one message that does not fit would otherwise fail its batch.
const (
	maxIDLen          = 40  // characters
	maxUserIDLen      = 128 // characters
	maxUsernameLen    = 64  // characters
	maxClientMsgIDLen = 64  // characters
	maxContentBytes   = 65535
)

// DATETIME's range.
var (
	minTime = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// Save stores msgs and returns once they are committed. Concurrent Saves
// share one INSERT. A message already stored (same id, same seq) is
// skipped; one whose seq or (user, client id) another message holds fails
// with globalchat.ErrConflict.
func (s *Store) Save(ctx context.Context, msgs ...globalchat.Message) error {
	for _, m := range msgs {
		if err := check(m); err != nil {
			return err
		}
	}
	if err := sqlstore.Save(ctx, s.batch, msgs); err != nil {
		return wrap("save", err)
	}
	return nil
}

// check refuses a message the schema cannot hold as it is.
func check(m globalchat.Message) error {
	invalid := func(format string, args ...any) error {
		return globalchat.Errorf(globalchat.CodeInvalid, "message %.40q: "+format, append([]any{m.ID}, args...)...)
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"id", m.ID, maxIDLen},
		{"user id", m.UserID, maxUserIDLen},
		{"username", m.Username, maxUsernameLen},
		{"client message id", m.ClientMsgID, maxClientMsgIDLen},
	} {
		if !utf8.ValidString(f.value) {
			return invalid("%s is not valid UTF-8", f.name)
		}
		if utf8.RuneCountInString(f.value) > f.max {
			return invalid("%s is longer than %d characters", f.name, f.max)
		}
	}
	switch {
	case m.ID == "":
		return invalid("no id")
	case !utf8.ValidString(m.Content):
		return invalid("content is not valid UTF-8")
	case len(m.Content) > maxContentBytes:
		return invalid("content is longer than %d bytes", maxContentBytes)
	case m.CreatedAt.Before(minTime) || m.CreatedAt.After(maxTime):
		return invalid("created at %v is out of range", m.CreatedAt)
	}
	return nil
}

// commit writes one batch; it is the batcher's commit function, so it
// runs on a single goroutine. A batch is one statement, hence atomic and
// one round trip; only a batch too large for one statement is split, and
// since Save is idempotent, a retry after a partial failure is safe. When
// the statement skipped rows, one more query tells a retry from a
// conflict, per message.
func (s *Store) commit(ctx context.Context, reqs []*sqlstore.SaveRequest) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	for len(reqs) > 0 {
		n := statementSize(reqs)
		msgs := make([]globalchat.Message, n)
		for i, r := range reqs[:n] {
			msgs[i] = r.Msg
		}
		query, args := insertQuery(msgs, true)
		res, err := s.db.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if inserted, err := res.RowsAffected(); err != nil || inserted < int64(n) {
			errs, err := s.Check(ctx, s.db, msgs)
			if err != nil {
				return err
			}
			for i, r := range reqs[:n] {
				r.Err = errs[i]
			}
		}
		reqs = reqs[n:]
	}
	return nil
}

// statementSize returns how many of msgs (at least one) fit in one INSERT.
func statementSize(reqs []*sqlstore.SaveRequest) int {
	size := 0
	for i, r := range reqs {
		m := r.Msg
		// Escaping may double the text; 100 covers the rest of the row.
		size += 2*(len(m.ID)+len(m.UserID)+len(m.Username)+len(m.Content)+len(m.ClientMsgID)) + 100
		if size > maxStatement && i > 0 {
			return i
		}
	}
	return len(reqs)
}

// insertQuery builds one multi-row INSERT of msgs. With skipStored, ON
// DUPLICATE KEY UPDATE with a no-op skips the rows whose keys are taken,
// like INSERT IGNORE, but unlike it does not turn other errors (a value
// too long, bad text) into warnings and silently altered data; the rows
// affected then say whether a check is needed.
func insertQuery(msgs []globalchat.Message, skipStored bool) (string, []any) {
	var b strings.Builder
	b.Grow(100 + 24*len(msgs))
	b.WriteString("INSERT INTO messages (" + sqlstore.Columns + ") VALUES ")
	args := make([]any, 0, 7*len(msgs))
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?)")
		var clientMsgID sql.NullString
		if m.ClientMsgID != "" {
			clientMsgID = sql.NullString{String: m.ClientMsgID, Valid: true}
		}
		args = append(args, m.ID, m.Seq, m.UserID, m.Username, m.Content, clientMsgID,
			m.CreatedAt.UTC().Truncate(time.Millisecond))
	}
	if skipStored {
		b.WriteString(" ON DUPLICATE KEY UPDATE id = id")
	}
	return b.String(), args
}

// newWriter reads and appends this store's rows.
func newWriter(db *sql.DB) sqlstore.Writer {
	return sqlstore.Writer{
		Reader: sqlstore.Reader{DB: db, Timeout: opTimeout, Wrap: wrap, CreatedAt: func() (any, func() time.Time) {
			var t time.Time
			return &t, func() time.Time { return t }
		}},
		LockCounter: "SELECT next, epoch FROM seq_counter WHERE id = 1 FOR UPDATE",
		Insert:      insertAll,
	}
}

// insertAll stores msgs in one statement; a taken key is an error.
func insertAll(ctx context.Context, tx *sql.Tx, msgs []globalchat.Message) error {
	for _, m := range msgs {
		if err := check(m); err != nil {
			return err
		}
	}
	query, args := insertQuery(msgs, false)
	_, err := tx.ExecContext(ctx, query, args...)
	return err
}
