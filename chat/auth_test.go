package chat

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func guests(t *testing.T, key string) *Guests {
	t.Helper()
	g, err := NewGuests([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGuestTokens(t *testing.T) {
	g := guests(t, "a-guest-key-of-32-bytes-or-so...")
	tok, id := g.Issue()
	if !strings.HasPrefix(tok, "g1.") || !strings.HasPrefix(id, "guest:") || strings.Contains(tok, strings.TrimPrefix(id, "guest:")) {
		t.Fatalf("token %q, id %q", tok, id)
	}
	if got, err := g.Verify(tok); err != nil || got != id {
		t.Fatalf("verify: %q %v, want %q", got, err, id)
	}
	if _, other := g.Issue(); other == id {
		t.Fatal("two guests got one id")
	}
	// Another key (another deployment), a changed id, a changed MAC, the
	// public id itself: none is a credential.
	if _, err := guests(t, "another-key-entirely-different!!").Verify(tok); err == nil {
		t.Error("a token of another key accepted")
	}
	idPart, mac, _ := strings.Cut(strings.TrimPrefix(tok, "g1."), ".")
	forged := []string{"", id, strings.TrimPrefix(id, "guest:"), "g1." + idPart, "g1." + idPart + ".", "g1." + idPart + "." + mac[1:],
		"g1.AAAAAAAAAAAAAAAAAAAAAA." + mac, "g2." + idPart + "." + mac, tok + "x", "g1.!!." + mac}
	for _, f := range forged {
		if _, err := g.Verify(f); err == nil {
			t.Errorf("forged token %q accepted", f)
		}
	}
	if _, err := NewGuests([]byte("short")); err == nil {
		t.Error("a short key accepted")
	}
}

func TestGuestAuthentication(t *testing.T) {
	a := NewAuthenticator("", guests(t, "a-guest-key-of-32-bytes-or-so..."))
	first, err := a.Authenticate(json.RawMessage(`{"username":"  Ada  "}`))
	if err != nil || first.User.Name != "Ada" || first.GuestToken == "" || !strings.HasPrefix(first.User.ID, "guest:") {
		t.Fatalf("new guest: %+v %v", first, err)
	}
	again, err := a.Authenticate(json.RawMessage(`{"username":"Ada L.","guestToken":"` + first.GuestToken + `"}`))
	if err != nil || again.User.ID != first.User.ID || again.GuestToken != "" || again.User.Name != "Ada L." {
		t.Fatalf("returning guest: %+v %v", again, err)
	}
	// The old credential, the public id's tail, is not one any more: it
	// makes a new guest.
	old, err := a.Authenticate(json.RawMessage(`{"username":"Ada","guestId":"` + strings.TrimPrefix(first.User.ID, "guest:") + `"}`))
	if err != nil || old.User.ID == first.User.ID || old.GuestToken == "" {
		t.Fatalf("guestId: %+v %v", old, err)
	}
	if _, err := a.Authenticate(json.RawMessage(`{"username":"Ada","guestToken":"g1.bad.token"}`)); err == nil || err.Error() != "invalid guest token" {
		t.Fatalf("bad token: %v", err)
	}
	for _, bad := range []string{`{"username":""}`, `{"username":"` + strings.Repeat("x", 33) + `"}`, `{"username":"a\u0007"}`, `[]`} {
		if _, err := a.Authenticate(json.RawMessage(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestNames(t *testing.T) {
	ok := map[string]string{
		"  Ada  ":                     "Ada",
		"e\u0301":                     "\u00e9", // NFC before counting
		strings.Repeat("e\u0301", 32): strings.Repeat("\u00e9", 32),
		"\u3164Ada\u3164":             "Ada",
		"李小龍":                         "李小龍",
		"ok 🙂":                        "ok 🙂",
		"-_-":                         "-_-",
	}
	for in, want := range ok {
		if got, err := cleanName(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	bad := []string{"", "   ", "\u3164", "\u3164\u3164\u3164", "\u2800\u2800", "\u115f\u1160", "\uffa0", "\u200b",
		"\u0301\u0301", "\ufe0f", "a\u202eb", "a\u200db", "a\x00", "\xff", strings.Repeat("x", 33), "\u3000\u2003"}
	for _, in := range bad {
		if got, err := cleanName(in); err == nil {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}

func TestJWTClaimsAreStrict(t *testing.T) {
	const secret = "jwt-secret-of-sufficient-length"
	a := NewAuthenticator(secret, nil)
	sign := func(c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return `{"token":"` + tok + `"}`
	}
	exp := time.Now().Add(time.Hour).Unix()
	good, err := a.Authenticate(json.RawMessage(sign(jwt.MapClaims{"sub": "u1", "name": "Ada", "exp": exp})))
	if err != nil || good.User.ID != "u1" || good.Expires.Unix() != exp {
		t.Fatalf("good token: %+v %v", good, err)
	}
	// Within the leeway an expired token still passes; beyond, it is
	// "token expired".
	if _, err := a.Authenticate(json.RawMessage(sign(jwt.MapClaims{"sub": "u1", "name": "Ada", "exp": time.Now().Add(-2 * time.Second).Unix()}))); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	if _, err := a.Authenticate(json.RawMessage(sign(jwt.MapClaims{"sub": "u1", "name": "Ada", "exp": time.Now().Add(-time.Minute).Unix()}))); err == nil || err.Error() != "token expired" {
		t.Errorf("expired: %v", err)
	}
	for name, c := range map[string]jwt.MapClaims{
		"no exp":          {"sub": "u1", "name": "Ada"},
		"exp as a string": {"sub": "u1", "name": "Ada", "exp": "9999999999"},
		"nbf as a string": {"sub": "u1", "name": "Ada", "exp": exp, "nbf": "1"},
		"iat in future":   {"sub": "u1", "name": "Ada", "exp": exp, "iat": time.Now().Add(time.Hour).Unix()},
		"sub a number":    {"sub": 42, "name": "Ada", "exp": exp},
		"name a number":   {"sub": "u1", "name": 7, "exp": exp},
		"no sub":          {"name": "Ada", "exp": exp},
		"invisible name":  {"sub": "u1", "name": "\u3164", "exp": exp},
		"not yet valid":   {"sub": "u1", "name": "Ada", "exp": exp, "nbf": time.Now().Add(time.Hour).Unix()},
	} {
		if _, err := a.Authenticate(json.RawMessage(sign(c))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
