package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/batch"
)

// wrap names the operation and marks err as globalchat.ErrUnavailable
// when it says the server cannot be used right now (unreachable, shutting
// down, overloaded, read-only, a timeout), as opposed to a bug or bad
// data. An *globalchat.Error passes through unchanged.
func wrap(op string, err error) error {
	var e *globalchat.Error
	if errors.As(err, &e) {
		return err
	}
	if unavailable(err) {
		return fmt.Errorf("mysql: %s: %w: %w", op, globalchat.ErrUnavailable, err)
	}
	return fmt.Errorf("mysql: %s: %w", op, err)
}

// Server error numbers that mean "not now" rather than "wrong".
var transient = map[uint16]bool{
	1040: true, // ER_CON_COUNT_ERROR: too many connections
	1053: true, // ER_SERVER_SHUTDOWN
	1205: true, // ER_LOCK_WAIT_TIMEOUT
	1213: true, // ER_LOCK_DEADLOCK
	1290: true, // ER_OPTION_PREVENTS_STATEMENT: --read-only, e.g. during a failover
	1836: true, // ER_READ_ONLY_MODE
	1927: true, // ER_CONNECTION_KILLED (MariaDB)
	3024: true, // ER_QUERY_TIMEOUT (MySQL max_execution_time)
	4031: true, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
}

func unavailable(err error) bool {
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		return transient[me.Number]
	}
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, gomysql.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, batch.ErrFull) ||
		errors.Is(err, batch.ErrClosed)
}
