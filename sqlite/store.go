// Package sqlite is the SQLite message store: a single file, for one
// instance or for development. It uses the pure-Go driver modernc.org/sqlite
// (no cgo), applies its embedded migrations at Open and commits concurrent
// Saves together in one transaction.
//
// It imports the domain package and the libraries it wraps, no sibling
// implementation.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/batch"
	"github.com/globalchat/globalchat/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// busyTimeout bounds how long a statement waits for a lock held by
	// another connection or process before failing with SQLITE_BUSY.
	busyTimeout = 5 * time.Second
	// opTimeout bounds every statement whose caller set no deadline.
	opTimeout = 10 * time.Second
	// maxReaders is the pool size: WAL lets readers run beside the one
	// writer (the batcher), and the machine has few cores.
	maxReaders = 4
)

var (
	_ globalchat.MessageStore = (*Store)(nil)
	_ globalchat.Sequencer    = (*Store)(nil)
)

// Store is a globalchat.MessageStore in a SQLite database file.
type Store struct {
	sqlstore.Writer // Before, After, LastSeq, Append, Fence
	db              *sql.DB
	batch           *batch.Batcher[*sqlstore.SaveRequest]
	logger          *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating it if needed) the database file at path, switches
// it to WAL mode and applies the pending migrations. A nil logger
// discards the logs.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxReaders)
	db.SetMaxIdleConns(maxReaders)
	if path == ":memory:" {
		// Each connection to :memory: is a database of its own.
		db.SetMaxOpenConns(1)
	}
	if err := migrate(ctx, db, logger); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (database %s)", err, path)
	}
	s := &Store{Writer: newWriter(db), db: db, logger: logger}
	s.batch = batch.New(s.commit, batch.Options{})
	logger.InfoContext(ctx, "sqlite message store open", "path", path)
	return s, nil
}

// dsn returns the driver's name for the file at path: a file: URI, so
// that a path holding '?' or '#' cannot be read as parameters, with the
// settings every connection needs.
func dsn(path string) string {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	q.Set("_journal_mode", "WAL")
	// FULL: a message is acknowledged only after its commit is on disk;
	// group commit spreads the fsync over every message of a batch.
	q.Set("_synchronous", "FULL")
	// The write transaction takes the write lock at BEGIN, so it never
	// fails half-way on a lock upgrade.
	q.Set("_txlock", "immediate")
	if path == ":memory:" {
		return "file::memory:?" + q.Encode()
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// migrate applies the embedded migrations that the database lacks.
func migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger.With("component", "goose")),
	)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return wrap("migrate", err)
	}
	for _, r := range results {
		logger.InfoContext(ctx, "sqlite migration applied", "source", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// Close commits the pending Saves and closes the database. Later calls
// return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.batch.Close()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Ping reports whether the database file can be read: a query, not the
// driver's ping, which an open connection would answer without reading.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return wrap("ping", err)
	}
	return nil
}
