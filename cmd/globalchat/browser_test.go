package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/testenv"
	"github.com/globalchat/globalchat/sqlite"
	"github.com/google/uuid"
)

// TestBrowser runs web/e2e/browser.mjs: headless Chromium pages (the
// Debian package) use the embedded web client against the real binary,
// on a database seeded with messages of earlier days: grouping and day
// separators, unread count and jump, mentions, the offline queue, the
// rate-limit countdown and resend, reload without the join screen, the
// counter, axe-core, and a server restart. Screenshots land in
// artifacts/browser/ (or $ARTIFACTS_DIR).
func TestBrowser(t *testing.T) {
	testenv.Binary(t, "chromium")
	testenv.Node(t, 4*time.Minute, "web/e2e/browser.mjs",
		"GLOBALCHAT_BIN="+buildBinary(t),
		// Below the ephemeral range: a port picked by listening on 0 may
		// be taken by another test's outgoing connection before the
		// server binds it.
		fmt.Sprintf("PORT=%d", testenv.FreePort(t)),
		"ARTIFACTS_DIR="+artifactsDir(t, "browser"),
		"SEED_DB="+seedHistory(t),
	)
}

// seedHistory writes a SQLite database holding messages from two days
// ago and yesterday (the server stamps new ones with the present, so
// earlier days can only come from the store): carol's run of three, then
// enough messages from dave that the first page does not reach the start.
func seedHistory(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seed.db")
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	twoDaysAgo := time.Date(now.Year(), now.Month(), now.Day()-2, 10, 0, 0, 0, time.Local)
	yesterday := time.Date(now.Year(), now.Month(), now.Day()-1, 9, 0, 0, 0, time.Local)
	var msgs []globalchat.Message
	add := func(user, name, content string, at time.Time) {
		msgs = append(msgs, globalchat.Message{
			ID: uuid.Must(uuid.NewV7()).String(), Seq: int64(len(msgs) + 1), UserID: user, Username: name,
			Content: content, CreatedAt: at.UTC().Truncate(time.Millisecond),
		})
	}
	for i := range 60 {
		add("u-dave", "dave", fmt.Sprintf("filler %d", i), twoDaysAgo.Add(time.Duration(i)*time.Minute*10))
	}
	for i := range 3 {
		add("u-carol", "carol", fmt.Sprintf("carol run %d", i), yesterday.Add(time.Duration(i)*time.Minute))
	}
	add("u-dave", "dave", "dave after carol", yesterday.Add(4*time.Minute))
	if err := store.Save(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// artifactsDir is where a browser test keeps its screenshots:
// $ARTIFACTS_DIR, or artifacts/<name>/ in the repository.
func artifactsDir(t *testing.T, name string) string {
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join(testenv.RepoRoot(t), "artifacts", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
