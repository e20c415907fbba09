package testenv

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
)

func TestMariaDB(t *testing.T) {
	start := time.Now()
	m := MariaDB(t)
	t.Logf("mariadbd ready in %v", time.Since(start))

	query := func(dsn string) (string, error) {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return "", err
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var v string
		err = db.QueryRowContext(ctx, "SELECT CONCAT(VERSION(), ' ', DATABASE())").Scan(&v)
		return v, err
	}
	dsn := m.DSN("app_1")
	if m.DSN("app_1") != dsn {
		t.Fatal("DSN of the same database changed")
	}
	v, err := query(dsn)
	if err != nil || !strings.Contains(v, "MariaDB") || !strings.HasSuffix(v, " app_1") {
		t.Fatalf("query = %q, %v; want a MariaDB version and app_1", v, err)
	}

	m.Kill()
	if _, err := query(dsn); err == nil {
		t.Fatal("query after Kill succeeded")
	}
	m.Restart()
	if _, err := query(dsn); err != nil {
		t.Fatalf("query after Restart: %v", err)
	}
	m.Stop()
	m.Stop() // twice is harmless
}
