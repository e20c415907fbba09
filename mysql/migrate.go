package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// migrateLock is the name of the server-wide lock (GET_LOCK) that
	// lets one instance at a time migrate.
	migrateLock = "globalchat_migrate"
	// lockPoll is each GET_LOCK wait: short, so that the driver's read
	// timeout never fires first and ctx is checked between waits.
	lockPoll = 3 * time.Second
	// lockWait is the longest an Open waits for another instance's
	// migration.
	lockWait = 2 * time.Minute
)

// migrate applies the embedded migrations that the database lacks, while
// holding migrateLock, so that instances starting together migrate one
// after the other: the first applies, the others find nothing to do.
//
// The lock belongs to one dedicated connection (a MySQL session) and
// goose runs on other connections of the pool, which is why the pool
// must allow at least two. The lock holder is closed at the end rather
// than returned to the pool, so no pooled session can keep the lock.
func migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("mysql: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectMySQL, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger.With("component", "goose")),
	)
	if err != nil {
		return fmt.Errorf("mysql: migrations: %w", err)
	}

	holder, err := db.Conn(ctx)
	if err != nil {
		return wrap("migrate", err)
	}
	defer discard(holder)
	if err := lock(ctx, holder, logger); err != nil {
		return err
	}
	defer unlock(ctx, holder, logger)

	results, err := p.Up(ctx)
	if err != nil {
		return wrap("migrate", err)
	}
	for _, r := range results {
		logger.InfoContext(ctx, "mysql migration applied", "source", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// lock takes migrateLock on conn, waiting up to lockWait for the instance
// that holds it.
func lock(ctx context.Context, conn *sql.Conn, logger *slog.Logger) error {
	deadline := time.Now().Add(lockWait)
	for {
		// 1: taken; 0: still held elsewhere after lockPoll; NULL: error.
		var got sql.NullInt64
		err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", migrateLock, int(lockPoll.Seconds())).Scan(&got)
		switch {
		case err != nil:
			return wrap("migration lock", err)
		case got.Valid && got.Int64 == 1:
			return nil
		case !got.Valid:
			return errors.New("mysql: migration lock: GET_LOCK returned NULL")
		case time.Now().After(deadline):
			return fmt.Errorf("mysql: migration lock %q still held by another instance after %v", migrateLock, lockWait)
		}
		logger.InfoContext(ctx, "waiting for another instance's migration", "lock", migrateLock)
	}
}

// unlock releases migrateLock; a failure only delays the next instance
// until conn is closed, which releases the lock too.
func unlock(ctx context.Context, conn *sql.Conn, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", migrateLock); err != nil {
		logger.WarnContext(ctx, "releasing the migration lock", "err", err)
	}
}

// discard closes conn's session instead of returning it to the pool:
// returning driver.ErrBadConn from Raw tells database/sql to drop it.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}
