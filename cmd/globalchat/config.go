package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/globalchat/globalchat/redis"
)

// config is the server's configuration: each setting comes from an
// environment variable, and a flag of the same name (lowercase, - for _)
// overrides it. The README's table is printed from settings (--help;
// TestREADMEConfigTable checks that the two are the same).
type config struct {
	Port              int
	Host              string
	SQLitePath        string
	MySQLDSN          string
	RedisURL          string
	RedisTLS          redis.TLSFiles
	JWTSecret         string
	GuestSecret       string
	RatePerMinute     int
	RateWindow        time.Duration
	CORSOrigins       string
	PingInterval      time.Duration
	PingTimeout       time.Duration
	WriteDelay        time.Duration
	WriteDelayMax     time.Duration
	LazyDelay         time.Duration
	MaxOpening        int
	RecoveryWindow    time.Duration
	PresenceThreshold int
	LeaveGrace        time.Duration
	ShutdownTimeout   time.Duration
	DrainWindow       time.Duration
	InstanceID        string
	LogLevel          string
	LogFormat         string
	Edge              edgeConfig
	MetricsAddr       string
	Accounting        string
	AccountInterval   time.Duration
	AccountWindow     time.Duration
	AdminToken        string

	// redisMetrics measure the Redis clients deps opens: wiring, not a
	// setting (newServer sets it).
	redisMetrics *redis.CommandMetrics
}

// setting is one row of the configuration table.
type setting struct {
	env, def, help string
	bind           func(fs *flag.FlagSet, name, value, help string) error
}

func str(p *string) func(*flag.FlagSet, string, string, string) error {
	return func(fs *flag.FlagSet, name, value, help string) error {
		fs.StringVar(p, name, value, help)
		return nil
	}
}

func integer(p *int) func(*flag.FlagSet, string, string, string) error {
	return func(fs *flag.FlagSet, name, value, help string) error {
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("not an integer: %q", value)
		}
		fs.IntVar(p, name, n, help)
		return nil
	}
}

func duration(p *time.Duration) func(*flag.FlagSet, string, string, string) error {
	return func(fs *flag.FlagSet, name, value, help string) error {
		d, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 25s, 2m): %q", value)
		}
		fs.DurationVar(p, name, d, help)
		return nil
	}
}

func (c *config) settings() []setting {
	return []setting{
		{"PORT", "3000", "HTTP port", integer(&c.Port)},
		{"HOST", "", "address to listen on (empty: all)", str(&c.Host)},
		{"SQLITE_PATH", "./globalchat.db", "SQLite file for messages, when `MYSQL_DSN` is empty", str(&c.SQLitePath)},
		{"MYSQL_DSN", "", "MySQL 8 / MariaDB 10.11 DSN in the go-sql-driver form (`user:pass@tcp(host:3306)/db`); turns on the MySQL store", str(&c.MySQLDSN)},
		{"REDIS_URL", "", "`redis://[user:password@]host:port/db` or `rediss://` (TLS); turns on Redis mode", str(&c.RedisURL)},
		{"REDIS_CA_FILE", "", "PEM file of the CA that signs Redis's certificate, for `rediss://` (empty: the system's roots)", str(&c.RedisTLS.CA)},
		{"REDIS_CERT_FILE", "", "PEM certificate this server shows Redis, when Redis asks clients for one (`tls-auth-clients yes`)", str(&c.RedisTLS.Cert)},
		{"REDIS_KEY_FILE", "", "PEM key of `REDIS_CERT_FILE`", str(&c.RedisTLS.Key)},
		{"AUTH_JWT_SECRET", "", "HS256 secret: clients must send `{token}` (claims `sub`, `name`, `exp`); unset means guest mode", str(&c.JWTSecret)},
		{"GUEST_SECRET", "", "key (16 bytes or more) that signs guest tokens, the same on every instance; unset: a random key generated once and kept in the message database (table `secrets`), which every instance on that database shares. Instances on separate SQLite files need it set alike to know the same guests. Changing it makes every guest a new user", str(&c.GuestSecret)},
		{"RATE_LIMIT_PER_MINUTE", "20", "messages a user may send in any 60 seconds (in any `RATE_LIMIT_WINDOW`)", integer(&c.RatePerMinute)},
		{"RATE_LIMIT_WINDOW", "1m", "the span of `RATE_LIMIT_PER_MINUTE` (1s-1h): a shorter one lets tests see a limit clear in seconds; leave it at a minute in production", duration(&c.RateWindow)},
		{"CORS_ORIGINS", "", "comma-separated origins (`scheme://host[:port]`, all three compared) allowed besides the server's own; `*` for any, without credentials", str(&c.CORSOrigins)},
		{"PING_INTERVAL", "25s", "Engine.IO heartbeat interval", duration(&c.PingInterval)},
		{"PING_TIMEOUT", "20s", "Engine.IO heartbeat timeout", duration(&c.PingTimeout)},
		{"WRITE_DELAY", "5ms", "a WebSocket written less than this ago waits until this has passed before its next broadcast write, so a fast stream leaves in fewer system calls; a quiet connection is written at once; acks and direct emits never wait, and the CONNECT reply waits only for the `chat:history` right behind it, to leave in one write (`0`: off)", duration(&c.WriteDelay)},
		{"WRITE_DELAY_MAX", "50ms", "a connection fed more than 30 broadcasts a second waits at least 33 ms, and 0.35 ms per message a second (35 ms at 100 messages/s), up to this: however busy the room, a connection costs at most 30 writes a second", duration(&c.WriteDelayMax)},
		{"LAZY_DELAY", "500ms", "presence (`user:joined`, `user:left`, `presence:update`) and typing broadcasts may wait up to this on a connection for another message to leave with, in one write instead of two: a wave of reconnects announces presence every second to every client, as many writes as a room chatting once a second", duration(&c.LazyDelay)},
		{"MAX_OPENING", "64", "connections being opened at once: a handshake, and a new connection's `CONNECT` (authentication, history, presence), take one of these slots while the server works on them (not while it waits for the client; a `CONNECT` stuck on a database that does not answer gives its slot back after a second, so that it does not hold back the clients behind it); the rest wait their turn, parked, in arrival order, and a handshake that waits more than 10 s gets `503 Server busy`. It keeps a connect storm from starving the chat: without it, 15,000 clients arriving at once put every chat message behind thousands of handshakes (0.4-1 s late instead of, usually, under 60 ms, with broadcasts in join order; see docs/benchmarks.md); `0`: no bound", integer(&c.MaxOpening)},
		{"RECOVERY_WINDOW", "2m", "how long a dropped client can come back and get what it missed", duration(&c.RecoveryWindow)},
		{"PRESENCE_COALESCE_THRESHOLD", "20", "joins + leaves per second on an instance above which presence goes out as one `presence:update` a second", integer(&c.PresenceThreshold)},
		{"PRESENCE_LEAVE_GRACE", "5s", "a dropped connection stays online this long before its user is announced gone (`user:left`): a client back within it (a network blip, a page reload, a redeploy moving it to another instance) was never gone, and nobody is sent a `user:left` and a `user:joined` for it; a user who does not come back is announced this late; a client that disconnects on purpose (a Socket.IO `DISCONNECT`) leaves at once (`0`: every one at once)", duration(&c.LeaveGrace)},
		{"DRAIN_WINDOW", "3s", "on SIGTERM the instance answers `/readyz` 503, refuses new sessions (503, which nginx passes to another instance) and closes its connections spread evenly over this window, each after the message it is handling has been acked: at most 1/window of its clients reconnect (elsewhere, recovering what they missed) in any second (`0`: all at once)", duration(&c.DrainWindow)},
		{"SHUTDOWN_TIMEOUT", "10s", "how long, after `DRAIN_WINDOW`, the shutdown waits for the last connections and the store before it exits anyway", duration(&c.ShutdownTimeout)},
		{"INSTANCE_ID", "", "this instance's name in Redis (empty: hostname-port-random, a new one at each start)", str(&c.InstanceID)},
		{"LOG_LEVEL", "info", "`debug`, `info`, `warn`, `error`", str(&c.LogLevel)},
		{"LOG_FORMAT", "auto", "`json`, `text`, or `auto` (JSON unless on a terminal)", str(&c.LogFormat)},
		{"TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of the proxies (nginx) whose `X-Forwarded-For` names the client; any other peer is the client itself, whatever it sends. Set it behind a proxy, or every client counts as the proxy's address", str(&c.Edge.TrustedProxies)},
		{"MAX_CONNECTIONS_PER_ADDRESS", "100", "sessions open at once from one client address (an IPv6 client counts by its /64); more are answered `429 Too many connections from this address` (`0`: no bound)", integer(&c.Edge.PerAddress)},
		{"HANDSHAKES_PER_SECOND", "10", "new sessions one client address may open a second, in bursts of five seconds' worth; more are answered `429 Too many handshakes from this address` (`0`: no bound)", integer(&c.Edge.HandshakeRate)},
		{"MAX_UNCONNECTED", "10000", "sessions, from all addresses together, that have not joined the chat yet; more are answered `503 Server busy` (`0`: no bound)", integer(&c.Edge.MaxUnconnected)},
		{"FIRST_MESSAGE_TIMEOUT", "5s", "a session that sends nothing (no `CONNECT`) this long after its handshake is closed; one refused at `CONNECT` is closed after 20 s if it does not close itself", duration(&c.Edge.FirstMessage)},
		{"MAX_HEADER_BYTES", "16384", "request line and headers of an HTTP request, in bytes, like Node's limit; more is answered `431`", integer(&c.Edge.MaxHeaderBytes)},
		{"MAX_ATTACHMENTS", "10", "binary attachments one Socket.IO packet may announce (socket.io's own limit); more closes the connection", integer(&c.Edge.MaxAttachments)},
		{"MAX_ATTACHMENT_BYTES", "1000000", "bytes of attachments a connection may hold while a packet waits for the rest of its attachments; more closes the connection", integer(&c.Edge.MaxAttachmentBytes)},
		{"RATE_LIMIT_PER_ADDRESS_PER_MINUTE", "120", "messages one client address may send in any 60 seconds, whatever users it claims to be (counted after each user's own limit; in memory, per instance: `ip_hash` keeps an address on one); refused with `rate_limited` (`0`: no bound)", integer(&c.Edge.MessagesPerAddress)},
		{"JOINS_PER_ADDRESS_PER_MINUTE", "60", "chat connections (`CONNECT`s) one client address may make in any 60 seconds; more get the `connect_error` `at most 60 connections a minute from one address: try again in Ns` (`0`: no bound)", integer(&c.Edge.JoinsPerAddress)},
		{"METRICS_ADDR", "", "address (e.g. `127.0.0.1:9090`) of a listener of its own for `GET /metrics`, which the public port then does not serve; unset: `/metrics` on the public port, asking for `Authorization: Bearer <ADMIN_TOKEN>` when `ADMIN_TOKEN` is set", str(&c.MetricsAddr)},
		{"BANDWIDTH_ACCOUNTING", "on", "`on` or `off`: count bytes, frames, messages and connections per endpoint, in `/metrics` and the `bandwidth:*` keys (docs/operations.md)", str(&c.Accounting)},
		{"BANDWIDTH_INTERVAL", "10s", "the interval of one point of the `bandwidth:timeseries:*` sets (whole seconds)", duration(&c.AccountInterval)},
		{"ADMIN_TOKEN", "", "secret (16 characters or more) that opens the operator's dashboard at `/admin` (its API takes `Authorization: Bearer <token>`); unset: the dashboard is off", str(&c.AdminToken)},
		{"BANDWIDTH_WINDOW", "24h", "how long the `bandwidth:timeseries:*` sets keep their points (24 h of 10 s: 8,640 per endpoint)", duration(&c.AccountWindow)},
	}
}

// flagName is the flag of an environment variable: PORT -> port.
func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}

// errVersion is loadConfig's answer to -version.
var errVersion = errors.New("version asked")

// loadConfig reads the environment, then the flags. It returns
// flag.ErrHelp for -help and errVersion for -version.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("globalchat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // run prints the help on flag.ErrHelp
	showVersion := fs.Bool("version", false, "print the version and commit, and exit")
	for _, s := range c.settings() {
		value := s.def
		if v := getenv(s.env); v != "" {
			value = v
		}
		if err := s.bind(fs, flagName(s.env), value, s.help+" ($"+s.env+")"); err != nil {
			return c, fmt.Errorf("%s: %w", s.env, err)
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *showVersion {
		return c, errVersion
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, c.validate()
}

func (c *config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Port >= 0 && c.Port <= 65535, "PORT must be 0-65535, got %d", c.Port)
	check(c.GuestSecret == "" || len(c.GuestSecret) >= 16, "GUEST_SECRET must be at least 16 bytes")
	check(c.RatePerMinute >= 1 && c.RatePerMinute <= 10000, "RATE_LIMIT_PER_MINUTE must be 1-10000, got %d", c.RatePerMinute)
	check(c.RateWindow >= time.Second && c.RateWindow <= time.Hour, "RATE_LIMIT_WINDOW must be 1s-1h, got %s", c.RateWindow)
	check(c.PingInterval >= 100*time.Millisecond, "PING_INTERVAL must be at least 100ms")
	check(c.PingTimeout >= 100*time.Millisecond, "PING_TIMEOUT must be at least 100ms")
	check(c.RecoveryWindow >= 0, "RECOVERY_WINDOW must not be negative")
	check(c.WriteDelay >= 0 && c.WriteDelay <= time.Second, "WRITE_DELAY must be 0-1s")
	check(c.LazyDelay > 0 && c.LazyDelay <= 5*time.Second, "LAZY_DELAY must be more than 0 and at most 5s, got %v", c.LazyDelay)
	check(c.WriteDelayMax >= c.WriteDelay && c.WriteDelayMax <= time.Second,
		"WRITE_DELAY_MAX must be at least WRITE_DELAY (%v) and at most 1s, got %v", c.WriteDelay, c.WriteDelayMax)
	check(c.MaxOpening >= 0, "MAX_OPENING must not be negative, got %d", c.MaxOpening)
	errs = append(errs, c.Edge.validate()...)
	check(c.PresenceThreshold >= 1, "PRESENCE_COALESCE_THRESHOLD must be at least 1")
	check(c.LeaveGrace >= 0 && c.LeaveGrace <= time.Minute, "PRESENCE_LEAVE_GRACE must be 0-1m, got %v", c.LeaveGrace)
	check(c.ShutdownTimeout > 0, "SHUTDOWN_TIMEOUT must be positive")
	check(c.DrainWindow >= 0 && c.DrainWindow <= 10*time.Minute, "DRAIN_WINDOW must be 0-10m, got %v", c.DrainWindow)
	check(c.MySQLDSN != "" || c.SQLitePath != "", "SQLITE_PATH must not be empty without MYSQL_DSN")
	check(c.AdminToken == "" || len(c.AdminToken) >= 16, "ADMIN_TOKEN must be 16 characters or more")
	check(c.Accounting == "on" || c.Accounting == "off", "BANDWIDTH_ACCOUNTING must be on or off, got %q", c.Accounting)
	check(c.AccountInterval >= time.Second && c.AccountInterval%time.Second == 0,
		"BANDWIDTH_INTERVAL must be whole seconds, at least 1s, got %v", c.AccountInterval)
	check(c.AccountWindow >= c.AccountInterval && c.AccountWindow/max(c.AccountInterval, time.Second) <= 100_000,
		"BANDWIDTH_WINDOW must be at least BANDWIDTH_INTERVAL and at most 100,000 intervals, got %v", c.AccountWindow)
	_, err := c.level()
	check(err == nil, "LOG_LEVEL must be debug, info, warn or error, got %q", c.LogLevel)
	check(c.LogFormat == "auto" || c.LogFormat == "json" || c.LogFormat == "text", "LOG_FORMAT must be auto, json or text, got %q", c.LogFormat)
	return errors.Join(errs...)
}

func (c *config) level() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(c.LogLevel))
	return l, err
}

// instanceID names this instance in Redis: INSTANCE_ID, or
// hostname-port-random (random: a restarted instance is a new one, and
// the reaper cleans up after the one that died).
func (c *config) instanceID() string {
	if c.InstanceID != "" {
		return c.InstanceID
	}
	host, _ := os.Hostname()
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%x", host, c.Port, b)
}

// origins returns the CORS allowlist.
func (c *config) origins() []string {
	var out []string
	for _, o := range strings.Split(c.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// logger builds the server's logger: JSON unless on a terminal.
func (c *config) logger(w io.Writer) *slog.Logger {
	level, _ := c.level()
	opts := &slog.HandlerOptions{Level: level}
	format := c.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	opts.ReplaceAttr = millis
	return slog.New(slog.NewJSONHandler(w, opts))
}

// millis writes durations in JSON logs as milliseconds (a number, the key
// suffixed _ms): slog's default is nanoseconds, which nobody reads.
func millis(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	ms := float64(a.Value.Duration().Microseconds()) / 1000
	if !strings.HasSuffix(a.Key, "_ms") {
		a.Key += "_ms"
	}
	return slog.Float64(a.Key, ms)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
