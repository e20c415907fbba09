package mysql

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/testenv"
	"github.com/globalchat/globalchat/storetest"
)

func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func message(seq int64) globalchat.Message {
	return globalchat.Message{
		ID: fmt.Sprint("m", seq), Seq: seq, UserID: "u1", Username: "Ann",
		Content: "hello", CreatedAt: time.Now(),
	}
}

// TestStore runs the shared contract and the tests that share one server.
func TestStore(t *testing.T) {
	m := testenv.MariaDB(t)
	var n atomic.Int64
	fresh := func() string { return m.DSN(fmt.Sprint("chat_", n.Add(1))) }

	t.Run("Contract", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) globalchat.MessageStore { return open(t, fresh()) })
	})
	t.Run("Secrets", func(t *testing.T) {
		storetest.RunSecrets(t, func(t *testing.T) (globalchat.SecretStore, globalchat.SecretStore) {
			dsn := fresh()
			return open(t, dsn), open(t, dsn)
		})
	})
	t.Run("ConcurrentOpensMigrateOnce", func(t *testing.T) { testConcurrentOpens(t, fresh()) })
	t.Run("OpenWaitsForTheMigrationLock", func(t *testing.T) { testLockWait(t, fresh()) })
	t.Run("ReopenKeepsData", func(t *testing.T) { testReopen(t, fresh()) })
	t.Run("OneStatementPerBatch", func(t *testing.T) { testBatching(t, fresh()) })
	t.Run("RefusesWhatDoesNotFit", func(t *testing.T) { testCheck(t, fresh()) })
	t.Run("Schema", func(t *testing.T) { testSchema(t, fresh()) })
	t.Run("DSN", testDSN)
}

func testConcurrentOpens(t *testing.T, dsn string) {
	const instances = 3
	stores := make([]*Store, instances)
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), dsn, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	var applied int
	err := stores[0].db.QueryRowContext(t.Context(),
		"SELECT COUNT(*) FROM goose_db_version WHERE version_id = 1").Scan(&applied)
	if err != nil || applied != 1 {
		t.Fatalf("migration 1 recorded %d times (%v), want once", applied, err)
	}
	// Every instance can write; each sees the others' messages.
	for i, s := range stores {
		if err := s.Save(t.Context(), message(int64(i+1))); err != nil {
			t.Fatalf("Save on instance %d: %v", i, err)
		}
	}
	if n, err := stores[2].LastSeq(t.Context()); err != nil || n != instances {
		t.Fatalf("LastSeq = %d, %v; want %d", n, err, instances)
	}
}

// testLockWait holds the migration lock as another instance would while
// migrating, and checks that Open neither migrates nor returns before it
// is released.
func testLockWait(t *testing.T, dsn string) {
	other, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got int
	if err := conn.QueryRowContext(t.Context(), "SELECT GET_LOCK(?, 0)", migrateLock).Scan(&got); err != nil || got != 1 {
		t.Fatalf("GET_LOCK = %d, %v", got, err)
	}

	opened := make(chan error, 1)
	go func() {
		s, err := Open(t.Context(), dsn, nil)
		if err == nil {
			t.Cleanup(func() { _ = s.Close() })
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		t.Fatalf("Open returned (%v) while another session held the migration lock", err)
	case <-time.After(time.Second):
	}
	var tables int
	err = conn.QueryRowContext(t.Context(),
		"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('messages', 'goose_db_version')").
		Scan(&tables)
	if err != nil || tables != 0 {
		t.Fatalf("%d tables (%v) created while another session held the lock", tables, err)
	}
	if _, err := conn.ExecContext(t.Context(), "DO RELEASE_LOCK(?)", migrateLock); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("Open after the lock was released: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open still waits after the lock was released")
	}
}

func testReopen(t *testing.T, dsn string) {
	s := open(t, dsn)
	if err := s.Save(t.Context(), message(7)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dsn)
	if got, err := s.After(t.Context(), 0, 10); err != nil || len(got) != 1 || got[0].ID != "m7" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

func testBatching(t *testing.T, dsn string) {
	s := open(t, dsn)
	statements := func() int64 {
		var name string
		var v int64
		if err := s.db.QueryRowContext(t.Context(), "SHOW GLOBAL STATUS LIKE 'Com_insert'").Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := statements()
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := s.Save(t.Context(), message(int64(i+1))); err != nil {
				t.Errorf("Save: %v", err)
			}
		})
	}
	wg.Wait()
	inserts := statements() - before
	t.Logf("%d concurrent saves in %d INSERT statements", n, inserts)
	if inserts >= n/2 {
		t.Fatalf("%d saves took %d INSERTs: no batching", n, inserts)
	}
	if last, _ := s.LastSeq(t.Context()); last != n {
		t.Fatalf("LastSeq = %d, want %d", last, n)
	}

	// A batch larger than one statement is split, and still all stored.
	big := make([]globalchat.Message, 300)
	for i := range big {
		big[i] = message(int64(n + 1 + i))
		big[i].Content = strings.Repeat("é", 16000) // 32000 bytes
	}
	if err := s.Save(t.Context(), big...); err != nil {
		t.Fatalf("Save of 9.6 MB: %v", err)
	}
	if last, _ := s.LastSeq(t.Context()); last != n+300 {
		t.Fatalf("LastSeq = %d, want %d", last, n+300)
	}
}

func testCheck(t *testing.T, dsn string) {
	s := open(t, dsn)
	long := message(1)
	long.Username = strings.Repeat("n", 65)
	bad := message(2)
	bad.Content = "bad \xff utf-8"
	for _, m := range []globalchat.Message{long, bad} {
		err := s.Save(t.Context(), m)
		if globalchat.ErrorCode(err) != globalchat.CodeInvalid {
			t.Errorf("Save(%q) = %v, want an invalid_message error", m.ID, err)
		}
	}
	fits := message(3)
	fits.Username = strings.Repeat("ñ", 64)
	if err := s.Save(t.Context(), fits); err != nil {
		t.Fatalf("Save of a 64-character username: %v", err)
	}
}

func testSchema(t *testing.T, dsn string) {
	s := open(t, dsn)
	var engine, collation string
	err := s.db.QueryRowContext(t.Context(),
		"SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'messages'").
		Scan(&engine, &collation)
	if err != nil {
		t.Fatal(err)
	}
	if engine != "InnoDB" || !strings.HasPrefix(collation, "utf8mb4_") {
		t.Fatalf("messages is %s, %s; want InnoDB, utf8mb4", engine, collation)
	}
	// IDs compare exactly: two IDs differing only in case are two messages.
	a, b := message(1), message(2)
	a.ID, b.ID = "msg-abc", "MSG-ABC"
	if err := s.Save(t.Context(), a, b); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.After(t.Context(), 0, 10); len(got) != 2 {
		t.Fatalf("stored %d of two IDs differing in case", len(got))
	}
}

func testDSN(t *testing.T) {
	discard := slog.New(slog.DiscardHandler)
	cfg, err := config("u:p@tcp(db:3306)/chat", discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ParseTime || cfg.Loc != time.UTC || !cfg.InterpolateParams ||
		cfg.Timeout != dialTimeout || cfg.ReadTimeout != readTimeout || cfg.WriteTimeout != writeTimeout {
		t.Fatalf("defaults not set: %+v", cfg)
	}
	cfg, err = config("u:p@tcp(db:3306)/chat?timeout=1s&readTimeout=2s&writeTimeout=3s&charset=utf8mb4", discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != time.Second || cfg.ReadTimeout != 2*time.Second || cfg.WriteTimeout != 3*time.Second {
		t.Fatalf("the DSN's timeouts were replaced: %v %v %v", cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout)
	}
	for _, bad := range []string{
		"u:p@tcp(db:3306)/",                  // no database
		"u:p@tcp(db:3306)/chat?charset=utf8", // no emoji
		"u:p@tcp(db:3306)/chat?collation=latin1_swedish_ci",
		"not a dsn",
	} {
		if _, err := config(bad, discard); err == nil {
			t.Errorf("config(%q) accepted", bad)
		}
	}
}

// TestServerDown checks that a stopped server gives ErrUnavailable fast,
// not a hang, and that the store recovers when the server is back.
func TestServerDown(t *testing.T) {
	m := testenv.MariaDB(t)
	dsn := m.DSN("chat")
	s := open(t, dsn)
	if err := s.Save(t.Context(), message(1)); err != nil {
		t.Fatal(err)
	}

	m.Stop()
	assertUnavailable := func(what string, err error, took time.Duration) {
		t.Helper()
		t.Logf("%s: %v (in %v)", what, err, took)
		if !errors.Is(err, globalchat.ErrUnavailable) {
			t.Errorf("%s with the server stopped = %v, want ErrUnavailable", what, err)
		}
		if took > 5*time.Second {
			t.Errorf("%s took %v with the server stopped", what, took)
		}
	}
	start := time.Now()
	err := s.Save(t.Context(), message(2))
	assertUnavailable("Save", err, time.Since(start))
	start = time.Now()
	_, err = s.After(t.Context(), 0, 10)
	assertUnavailable("After", err, time.Since(start))
	start = time.Now()
	err = s.Ping(t.Context())
	assertUnavailable("Ping", err, time.Since(start))
	start = time.Now()
	_, err = Open(t.Context(), dsn, nil)
	assertUnavailable("Open", err, time.Since(start))

	m.Restart()
	if err := s.Save(t.Context(), message(3)); err != nil {
		t.Fatalf("Save after the server came back: %v", err)
	}
	if n, err := s.LastSeq(t.Context()); err != nil || n != 3 {
		t.Fatalf("LastSeq = %d, %v; want 3", n, err)
	}
}
