package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/batch"
	"github.com/globalchat/globalchat/internal/sqlstore"
	"github.com/globalchat/globalchat/storetest"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) globalchat.MessageStore {
		return open(t, filepath.Join(t.TempDir(), "chat.db"))
	})
}

func TestSecrets(t *testing.T) {
	storetest.RunSecrets(t, func(t *testing.T) (globalchat.SecretStore, globalchat.SecretStore) {
		path := filepath.Join(t.TempDir(), "chat.db")
		return open(t, path), open(t, path)
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir with space?#", "chat.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	want := globalchat.Message{ID: "m1", Seq: 41, UserID: "u", Username: "n", Content: "kept",
		CreatedAt: time.UnixMilli(1_700_000_000_123).UTC()}
	if err := s.Save(t.Context(), want); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at the given path: %v", err)
	}

	s = open(t, path) // migrations already applied: a no-op
	got, err := s.After(t.Context(), 0, 10)
	if err != nil {
		t.Fatalf("After: %v", err)
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("after reopen: %+v, want [%+v]", got, want)
	}
	if n, err := s.LastSeq(t.Context()); err != nil || n != 41 {
		t.Fatalf("LastSeq = %d, %v; want 41", n, err)
	}
}

func TestWALMode(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "chat.db"))
	var mode string
	if err := s.db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}

func TestConcurrentSavesAreBatched(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "chat.db"))
	// Count the transactions with a batcher around the store's commit.
	s.batch.Close()
	var commits atomic.Int64
	s.batch = batch.New(func(ctx context.Context, reqs []*sqlstore.SaveRequest) error {
		commits.Add(1)
		return s.commit(ctx, reqs)
	}, batch.Options{})

	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := globalchat.Message{ID: fmt.Sprint("m", i), Seq: int64(i + 1), CreatedAt: time.Now()}
			if err := s.Save(t.Context(), m); err != nil {
				t.Errorf("Save: %v", err)
			}
		})
	}
	wg.Wait()
	if got, _ := s.LastSeq(t.Context()); got != n {
		t.Fatalf("LastSeq = %d, want %d", got, n)
	}
	t.Logf("%d saves in %d transactions", n, commits.Load())
	if commits.Load() >= n {
		t.Fatalf("%d concurrent saves took %d transactions: no batching", n, commits.Load())
	}
}

func TestUnavailable(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be cannot be opened as a database.
	path := filepath.Join(dir, "chat.db")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), path, nil)
	if !errors.Is(err, globalchat.ErrUnavailable) {
		t.Fatalf("Open of a directory = %v, want ErrUnavailable", err)
	}

	s := open(t, filepath.Join(dir, "ok.db"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(t.Context(), globalchat.Message{ID: "x", Seq: 1}); !errors.Is(err, globalchat.ErrUnavailable) {
		t.Fatalf("Save after Close = %v, want ErrUnavailable", err)
	}
}

func TestInMemory(t *testing.T) {
	s := open(t, ":memory:")
	m := globalchat.Message{ID: "m1", Seq: 1, CreatedAt: time.UnixMilli(5).UTC()}
	if err := s.Save(t.Context(), m); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if got, err := s.Before(t.Context(), 0, 5); err != nil || len(got) != 1 || got[0] != m {
		t.Fatalf("Before = %+v, %v; want [%+v]", got, err, m)
	}
}
