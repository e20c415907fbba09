// Package redis holds the Redis implementations of the real-time state
// shared by every instance: the message bus (one seq order, pub/sub), the
// presence of users across instances, the rate limiter, the Socket.IO
// session store and the Socket.IO adapter.
//
// Every key starts with "global-chat:" (but the reference design's bandwidth:*
// keys) and has a TTL, or is a structure of
// bounded size (the recent-message ZSET is trimmed; the online sets hold
// the users online). The only key that never expires is the room's
// counter, global-chat:seq. Lua scripts live in scripts/*.lua, each headed
// by its KEYS and ARGV; they assume one Redis server (or a primary with
// replicas), not Redis Cluster.
//
// It imports the domain package, socketio's seams and go-redis; no
// sibling implementation.
package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/batch"
)

// Keys and channels of the reference design, and the ones added here.
const (
	keySeq    = "global-chat:seq"    // string: the room's last seq; the one key without TTL
	keyRecent = "global-chat:recent" // ZSET: recent message JSON by seq, trimmed
	keySpool  = "global-chat:spool"  // ZSET: message JSON by seq until the store has it; bounded, no TTL

	keySpoolConflicts = "global-chat:spool-conflicts" // ZSET: spooled messages the store refused; for the operator, no TTL
	keyOnlineUsers    = "global-chat:online-users"    // SET: user ids online
	keyOnlineNames    = "global-chat:online-names"    // ZSET (score 0): "name\x00userId", for Online in name order
	keyInstances      = "global-chat:instances"       // ZSET: instance id by last heartbeat (ms, Redis time)
	keyTyping         = "global-chat:typing"          // ZSET: user JSON by the time (ms) it stops typing; short TTL

	channelMessages = "global-chat:messages" // pub/sub: message JSON in seq order

	messageTTL = time.Hour // message, recent and dedupe keys

	defaultTimeout = 3 * time.Second // one call to Redis
)

func keyMessage(id string) string { return "global-chat:message:" + id }

// keyClientMsg escapes ':' in the user id so that ("a", "b:c") and
// ("a:b", "c") do not share a key; ids without ':' or '%' are unchanged.
func keyClientMsg(userID, clientMsgID string) string {
	return "global-chat:client-msg:" + escapeColon(userID) + ":" + clientMsgID
}

func keyUserOnline(userID string) string       { return "global-chat:user-online:" + userID }
func keyUserSocket(socketID string) string     { return "global-chat:user-socket:" + socketID }
func keyUserSockets(userID string) string      { return "global-chat:user-sockets:" + userID }
func keyInstance(id string) string             { return "global-chat:instance:" + id }
func keySocketInstance(socketID string) string { return "global-chat:socket-instance:" + socketID }
func keyInstanceSockets(id string) string      { return "global-chat:instance-sockets:" + id }
func keyRateLimit(userID string) string        { return "global-chat:rate-limit:" + userID }
func socketIOChannel(namespace string) string  { return "socket.io#" + namespace + "#" }

func escapeColon(s string) string {
	if !strings.ContainsAny(s, ":%") {
		return s
	}
	return strings.NewReplacer("%", "%25", ":", "%3A").Replace(s)
}

// Open connects to the Redis of rawURL, redis://[user:password@]host:port/db
// or rediss:// for TLS, and checks that it answers PING.
func Open(ctx context.Context, rawURL string) (*goredis.Client, error) {
	client, err := NewClient(rawURL, TLSFiles{})
	if err != nil {
		return nil, err
	}
	if err := Ping(ctx, client); err != nil {
		client.Close()
		return nil, err
	}
	return client, nil
}

// Ping checks that the client's Redis answers, within the client's dial
// and call timeouts.
func Ping(ctx context.Context, client *goredis.Client) error {
	opts := client.Options()
	ctx, cancel := context.WithTimeout(ctx, opts.DialTimeout+defaultTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		return unavailable("ping "+opts.Addr, err)
	}
	return nil
}

// EvictionPolicy returns Redis's maxmemory-policy ("" when CONFIG is not
// allowed, as on some managed services).
func EvictionPolicy(ctx context.Context, client *goredis.Client) string {
	ctx, cancel := withTimeout(ctx, defaultTimeout)
	defer cancel()
	return client.ConfigGet(ctx, "maxmemory-policy").Val()["maxmemory-policy"]
}

// NewClient returns a client of the Redis of rawURL without connecting.
// Timeouts not set in the URL take sane values, and context deadlines
// bound every call.
func NewClient(rawURL string, files TLSFiles) (*goredis.Client, error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis: bad url: %w", redactURLError(err))
	}
	if err := files.apply(opts); err != nil {
		return nil, err
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 3 * time.Second
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = defaultTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = defaultTimeout
	}
	if opts.DialerRetries == 0 {
		// The default (5 dials, each retried by MaxRetries) makes a call
		// to a Redis that is down take seconds; ErrUnavailable should come
		// fast, the callers retry.
		opts.DialerRetries = 2
		opts.DialerRetryTimeout = 50 * time.Millisecond
	}
	opts.ContextTimeoutEnabled = true
	return goredis.NewClient(opts), nil
}

// TLSFiles are the PEM files of a rediss:// connection: the CA that signs
// Redis's certificate (empty: the system's roots), and the client's own
// certificate and key when Redis asks for one (tls-auth-clients).
type TLSFiles struct{ CA, Cert, Key string }

// apply sets the files into opts' TLS configuration.
func (f TLSFiles) apply(opts *goredis.Options) error {
	if f == (TLSFiles{}) {
		return nil
	}
	if opts.TLSConfig == nil {
		return errors.New("redis: TLS files are set but the URL is not rediss://")
	}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return fmt.Errorf("redis: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("redis: CA file %s holds no PEM certificate", f.CA)
		}
		opts.TLSConfig.RootCAs = pool
	}
	if f.Cert != "" || f.Key != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return fmt.Errorf("redis: client certificate: %w", err)
		}
		opts.TLSConfig.Certificates = []tls.Certificate{cert}
	}
	return nil
}

// redactURLError drops the URL, and its password, from a parse error.
func redactURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// unavailable wraps err: Redis errors that say the server is unusable for
// now, and every network error or timeout, wrap globalchat.ErrUnavailable;
// other error replies (a bad script, a wrong type) do not.
func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	var rerr goredis.Error
	transient := false
	if errors.As(err, &rerr) {
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "BUSY"} {
			transient = transient || strings.HasPrefix(rerr.Error(), p)
		}
	}
	// A certificate Redis's own TLS does not pass is a setting to fix,
	// not an outage to wait out.
	var verr *tls.CertificateVerificationError
	if (rerr != nil && !transient) || errors.Is(err, context.Canceled) || errors.As(err, &verr) {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	return fmt.Errorf("redis: %s: %w: %w", op, globalchat.ErrUnavailable, err)
}

// withTimeout bounds one call to Redis.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = defaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

// batchError is the error of a call that went through a batcher: the
// commit's own error as it is (already wrapped by unavailable), a full or
// closed batcher as unavailable (the instance is overloaded or stopping),
// and the caller's context ending as unavailable does.
func batchError(op string, err error) error {
	switch {
	case errors.Is(err, batch.ErrFull) || errors.Is(err, batch.ErrClosed):
		return fmt.Errorf("redis: %s: %w: %w", op, globalchat.ErrUnavailable, err)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return unavailable(op, err)
	default:
		return err
	}
}
