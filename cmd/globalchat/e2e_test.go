package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
	"github.com/golang-jwt/jwt/v5"
)

// buildBinary builds the server once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	return testenv.Build(t, "./cmd/globalchat")
}

// TestBadConfigurationStopsTheStart: a clear message and exit code 1.
func TestBadConfigurationStopsTheStart(t *testing.T) {
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append(os.Environ(), "PORT=abc", "RATE_LIMIT_PER_MINUTE=0")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(string(out), "PORT: not an integer") {
		t.Fatalf("output: %s", out)
	}
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
