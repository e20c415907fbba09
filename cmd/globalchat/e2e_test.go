package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
	"github.com/golang-jwt/jwt/v5"
)

// buildBinary builds the server once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "globalchat")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func signed(t *testing.T, secret string, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "user-42", "name": "Ada", "exp": exp.Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestChatEndToEnd runs jstest/chat.mjs: the official client against the
// real binary on embedded defaults, restarts included.
func TestChatEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	const secret = "test-secret-of-sufficient-length"
	testenv.Node(t, 3*time.Minute, "jstest/chat.mjs",
		"GLOBALCHAT_BIN="+bin,
		"PORT="+strconv.Itoa(testenv.FreePort(t)),
		"PORT_JWT="+strconv.Itoa(testenv.FreePort(t)),
		"DATA_DIR="+t.TempDir(),
		"JWT_SECRET="+secret,
		"TOKEN_GOOD="+signed(t, secret, time.Now().Add(time.Hour)),
		"TOKEN_EXPIRED="+signed(t, secret, time.Now().Add(-time.Minute)),
		"TOKEN_BADSIG="+signed(t, "another-secret-entirely-different", time.Now().Add(time.Hour)),
	)
}
