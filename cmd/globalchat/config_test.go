package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3000 || c.SQLitePath != "./globalchat.db" || c.RatePerMinute != 20 || c.RecoveryWindow != 2*time.Minute || c.ShutdownTimeout != 10*time.Second ||
		c.LeaveGrace != 5*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigFlagsOverrideEnvironment(t *testing.T) {
	c, err := loadConfig([]string{"-port", "4000", "-cors-origins", "https://a.example, https://b.example"},
		env(map[string]string{"PORT": "3500", "RATE_LIMIT_PER_MINUTE": "5", "PING_INTERVAL": "5s"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 4000 || c.RatePerMinute != 5 || c.PingInterval != 5*time.Second {
		t.Fatalf("got %+v", c)
	}
	if got := c.origins(); len(got) != 2 || got[1] != "https://b.example" {
		t.Fatalf("origins %q", got)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{env: map[string]string{"PORT": "abc"}, want: "PORT: not an integer"},
		{env: map[string]string{"PORT": "70000"}, want: "PORT must be 0-65535"},
		{env: map[string]string{"RATE_LIMIT_PER_MINUTE": "0"}, want: "RATE_LIMIT_PER_MINUTE must be 1-10000"},
		{env: map[string]string{"RATE_LIMIT_WINDOW": "500ms"}, want: "RATE_LIMIT_WINDOW must be 1s-1h, got 500ms"},
		{env: map[string]string{"PING_INTERVAL": "soon"}, want: "PING_INTERVAL: not a duration"},
		{env: map[string]string{"LOG_LEVEL": "loud"}, want: "LOG_LEVEL must be"},
		{env: map[string]string{"WRITE_DELAY": "100ms"}, want: "WRITE_DELAY_MAX must be at least WRITE_DELAY (100ms) and at most 1s, got 50ms"},
		{args: []string{"-write-delay-max", "2s"}, want: "WRITE_DELAY_MAX must be at least WRITE_DELAY (5ms) and at most 1s, got 2s"},
		{args: []string{"-max-opening", "-1"}, want: "MAX_OPENING must not be negative, got -1"},
		{env: map[string]string{"MAX_OPENING": "many"}, want: "MAX_OPENING: not an integer"},
		{env: map[string]string{"GUEST_SECRET": "too-short"}, want: "GUEST_SECRET must be at least 16 bytes"},
		{env: map[string]string{"PRESENCE_LEAVE_GRACE": "-1s"}, want: "PRESENCE_LEAVE_GRACE must be 0-1m, got -1s"},
		{args: []string{"-presence-leave-grace", "2m"}, want: "PRESENCE_LEAVE_GRACE must be 0-1m, got 2m0s"},
		{args: []string{"-no-such-flag"}, want: "flag provided but not defined"},
		{args: []string{"extra"}, want: "unexpected arguments"},
	} {
		_, err := loadConfig(tc.args, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: got %v, want %q", tc.env, tc.args, err, tc.want)
		}
	}
}

// TestJSONLogsDurationsInMilliseconds: a duration is a number of ms.
func TestJSONLogsDurationsInMilliseconds(t *testing.T) {
	c := config{LogLevel: "info", LogFormat: "json"}
	var b strings.Builder
	c.logger(&b).Info("x", "duration", 1500*time.Microsecond, "took_ms", 2*time.Second)
	if !strings.Contains(b.String(), `"duration_ms":1.5`) || !strings.Contains(b.String(), `"took_ms":2000`) {
		t.Fatalf("%s", b.String())
	}
}
