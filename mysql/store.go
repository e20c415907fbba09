// Package mysql is the MySQL / MariaDB message store, shared by every
// instance of the chat. It applies its embedded migrations at Open (under
// a server-side lock, so instances may start together) and writes
// concurrent Saves as one multi-row INSERT: one round trip per batch.
//
// It works with MariaDB 10.11 and MySQL 8. It imports the domain package
// and the libraries it wraps, no sibling implementation.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/batch"
	"github.com/globalchat/globalchat/internal/sqlstore"
)

// Defaults for a DSN that leaves them out. Every query here is small, so
// a server that does not answer within readTimeout is as good as down.
const (
	dialTimeout  = 5 * time.Second
	readTimeout  = 10 * time.Second
	writeTimeout = 10 * time.Second
	// opTimeout bounds every call whose caller set no deadline.
	opTimeout = 10 * time.Second
)

// Pool limits: enough for the batch writer, the readers and the
// migration (which needs two connections, see migrate), without taking a
// large share of the server's max_connections per instance.
const (
	maxOpenConns    = 16
	maxIdleConns    = 8
	connMaxLifetime = 5 * time.Minute // under any proxy's or wait_timeout's cut
	connMaxIdleTime = time.Minute
)

var (
	_ globalchat.MessageStore = (*Store)(nil)
	_ globalchat.Sequencer    = (*Store)(nil)
)

// Store is a globalchat.MessageStore in a MySQL or MariaDB database.
type Store struct {
	sqlstore.Writer // Before, After, LastSeq, Ping, Append, Fence
	db              *sql.DB
	batch           *batch.Batcher[*sqlstore.SaveRequest]
	logger          *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// Open connects to the database named by dsn (go-sql-driver syntax, e.g.
// "user:pass@tcp(host:3306)/chat"), checks that it answers and applies the
// pending migrations. It sets parseTime, UTC and the timeouts the DSN
// leaves out. A nil logger discards the logs.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := config(dsn, logger)
	if err != nil {
		return nil, err
	}
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)

	s := &Store{Writer: newWriter(db), db: db, logger: logger}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (server %s)", err, cfg.Addr)
	}
	if err := migrate(ctx, db, logger); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (server %s)", err, cfg.Addr)
	}
	s.batch = batch.New(s.commit, batch.Options{})
	logger.InfoContext(ctx, "mysql message store open", "addr", cfg.Addr, "db", cfg.DBName)
	return s, nil
}

// config parses dsn and fills in what the store relies on.
func config(dsn string, logger *slog.Logger) (*gomysql.Config, error) {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql: bad DSN: %w", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("mysql: the DSN names no database")
	}
	// Emoji need utf8mb4 on the connection, not only in the table. The
	// driver's default (no collation) is utf8mb4_general_ci.
	if cfg.Collation != "" && !strings.HasPrefix(cfg.Collation, "utf8mb4_") {
		return nil, fmt.Errorf("mysql: collation %q: a utf8mb4 collation is required", cfg.Collation)
	}
	if cs := charsets(cfg); cs != "" {
		for c := range strings.SplitSeq(cs, ",") {
			if c != "utf8mb4" {
				return nil, fmt.Errorf("mysql: charset %q: utf8mb4 is required", cs)
			}
		}
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Timeout == 0 {
		cfg.Timeout = dialTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = readTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = writeTimeout
	}
	// The driver then sends each statement as text, escaped for utf8mb4:
	// one round trip, where a prepared statement takes three.
	cfg.InterpolateParams = true
	cfg.Logger = driverLogger{logger.With("component", "mysql-driver")}
	return cfg, nil
}

// charsets returns the DSN's charset parameter, which the driver keeps
// unexported.
func charsets(cfg *gomysql.Config) string {
	dsn := cfg.FormatDSN()
	i := strings.LastIndexByte(dsn, '?')
	if i < 0 {
		return ""
	}
	q, err := url.ParseQuery(dsn[i+1:])
	if err != nil {
		return ""
	}
	return q.Get("charset")
}

// Close commits the pending Saves and closes the connections. Later calls
// return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.batch.Close()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// driverLogger sends the driver's rare messages (a dropped connection, a
// refused auth plugin) to slog instead of its default stderr logger.
type driverLogger struct{ l *slog.Logger }

// Print implements gomysql.Logger.
func (d driverLogger) Print(v ...any) { d.l.Warn(strings.TrimSpace(fmt.Sprint(v...))) }
