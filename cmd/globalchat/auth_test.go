package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/globalchat/globalchat/chat"
	"github.com/globalchat/globalchat/sqlite"
)

// newGuest connects a new guest on a and returns its token and user id.
func newGuest(t *testing.T, a *chat.Authenticator) (string, string) {
	t.Helper()
	id, err := a.Authenticate(json.RawMessage(`{"username":"Ada"}`))
	if err != nil || id.GuestToken == "" {
		t.Fatalf("new guest: %+v %v", id, err)
	}
	return id.GuestToken, id.User.ID
}

func returning(a *chat.Authenticator, token string) (string, error) {
	id, err := a.Authenticate(json.RawMessage(`{"username":"Ada","guestToken":"` + token + `"}`))
	return id.User.ID, err
}

// TestGuestKeyIsSharedAndKept: instances on one database, or with one
// GUEST_SECRET, know the same guests; a restart changes nothing.
func TestGuestKeyIsSharedAndKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	open := func() *chat.Authenticator {
		store, err := sqlite.Open(t.Context(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		a, err := authenticator(t.Context(), config{}, store)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := open()
	token, user := newGuest(t, first)
	if got, err := returning(open(), token); err != nil || got != user {
		t.Fatalf("after a restart: %q %v, want %q", got, err, user)
	}

	other, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "other.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	elsewhere, err := authenticator(t.Context(), config{}, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := returning(elsewhere, token); err == nil {
		t.Fatal("a database with its own key accepted another's token")
	}
	cfg := config{GuestSecret: "shared-guest-secret-32-bytes...."}
	a, _ := authenticator(t.Context(), cfg, other)
	b, _ := authenticator(t.Context(), cfg, nil)
	token, user = newGuest(t, a)
	if got, err := returning(b, token); err != nil || got != user {
		t.Fatalf("same GUEST_SECRET: %q %v, want %q", got, err, user)
	}
}
