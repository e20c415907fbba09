package chat

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/logsample"
	"github.com/globalchat/globalchat/socketio"
	"github.com/prometheus/client_golang/prometheus"
)

// Events of the chat, as the reference design names them.
const (
	EventHistory        = "chat:history"
	EventSession        = "chat:session"
	EventMessage        = "chat:message"
	EventUserJoined     = "user:joined"
	EventUserLeft       = "user:left"
	EventPresenceUpdate = "presence:update"
)

// LazyEvents are the chat's informational broadcasts (for
// socketio.Options.LazyEvents): presence and typing may wait a moment to
// leave in the same write as a chat message, rather than cost every
// connection a write of their own each second during a wave of
// reconnects.
var LazyEvents = []string{EventUserJoined, EventUserLeft, EventPresenceUpdate, EventTyping}

// HistorySize is how many messages a new connection gets.
const HistorySize = 50

// opTimeout bounds each call to a dependency made by a flow.
const opTimeout = 5 * time.Second

// Config is what the service is built from.
type Config struct {
	IO       *socketio.Server
	Store    globalchat.MessageStore
	Bus      globalchat.Bus
	Presence globalchat.Presence
	Limiter  globalchat.RateLimiter
	// Typing is who is typing across instances; nil: no typing indicator.
	Typing globalchat.Typing
	// AddressLimiter bounds the messages of one client address, and
	// JoinLimiter its connections (CONNECTs), whatever users it claims
	// to be; keyed by address. Nil for no bound.
	AddressLimiter globalchat.RateLimiter
	JoinLimiter    globalchat.RateLimiter
	Auth           *Authenticator
	Logger         *slog.Logger
	// Registerer receives the chat's metrics; nil for none.
	Registerer prometheus.Registerer
	// PresenceThreshold: above this many joins and leaves in one
	// PresenceInterval, presence is sent as one coalesced
	// presence:update per interval. Default 20 per second.
	PresenceThreshold int
	PresenceInterval  time.Duration
	// LeaveGrace: a dropped connection stays in presence this long, so
	// that a client back within it was never gone (no user:left, then
	// user:joined). Zero: it leaves at once.
	LeaveGrace time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Traffic counts messages in and out; nil counts nothing.
	Traffic Traffic
	// Sampler logs what clients get wrong (refused connections, invalid
	// messages), sampled per address; nil: one of its own on Logger.
	Sampler *logsample.Sampler
	// State is the instance's mode: the message flow marks the store away
	// when a spooled message cannot be committed, and acknowledges
	// spooled messages without waiting for it until it answers again.
	// Nil: a State of the service's own.
	State *globalchat.State
}

// Traffic counts the chat's messages: each chat:message received, and
// each delivery of a message to a socket. Called on the message path: it
// must be cheap.
type Traffic interface {
	MessageIn()
	MessagesOut(n int)
}

type noTraffic struct{}

func (noTraffic) MessageIn()      {}
func (noTraffic) MessagesOut(int) {}

// Service runs the chat room.
type Service struct {
	cfg     Config
	nsp     *socketio.Namespace
	log     *slog.Logger
	metrics *metrics
	// announce tells the room who comes and goes.
	announce *announcer
	// departures holds the leaves of dropped connections for LeaveGrace.
	departures *departures
	health     *health
	// histCache holds the encoded history of new connections.
	histCache historyCache
	stopWatch func()
	// stopTyping stops the typing indicator's loop.
	stopTyping func()
	// delivered is the highest seq delivered to this instance's sockets,
	// recent the last of them.
	delivered atomic.Int64
	recent    *recentLog
	typing    typingState
}

// Delivered returns the highest seq this instance has delivered to its
// sockets (the recovery replay stops there).
func (s *Service) Delivered() int64 { return s.delivered.Load() }

// Recent returns the messages with seq in (after, upTo] that this
// instance delivered, oldest first, if it still holds all of them (for
// Replayer.Recent).
func (s *Service) Recent(after, upTo int64) ([]globalchat.Message, bool) {
	return s.recent.since(after, upTo)
}

// New wires the flows onto the main namespace of cfg.IO and subscribes to
// the bus. Call it before serving.
func New(cfg Config) (*Service, error) {
	if cfg.IO == nil || cfg.Store == nil || cfg.Bus == nil || cfg.Presence == nil || cfg.Limiter == nil || cfg.Auth == nil {
		return nil, errors.New("chat: incomplete config")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Traffic == nil {
		cfg.Traffic = noTraffic{}
	}
	if cfg.Sampler == nil {
		cfg.Sampler = logsample.New(cfg.Logger, logsample.Options{})
	}
	if cfg.State == nil {
		cfg.State = globalchat.NewState(cfg.Logger, nil)
	}
	s := &Service{cfg: cfg, nsp: cfg.IO.Of("/"), log: cfg.Logger, metrics: newMetrics(cfg.Registerer),
		recent: newRecentLog(maxReplay)}
	s.health = newHealth(s.log)
	s.announce = newAnnouncer(s.broadcast, cfg.PresenceThreshold, cfg.PresenceInterval, cfg.Now)
	s.departures = newDepartures(cfg.LeaveGrace)
	s.metrics.pendingLeaves(s.departures.len)
	s.nsp.Use(s.authenticate)
	s.nsp.OnConnection(s.onConnect)
	// What the store holds was delivered before this process started; the
	// bus delivers what comes after, from this same point (read once: a
	// message stored between two reads would be neither delivered live
	// nor replayed, since a replay stops at what was delivered).
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	start, err := cfg.Store.LastSeq(ctx)
	cancel()
	if err != nil {
		start = -1 // the bus starts where it stands; delivered follows it
	}
	s.delivered.Store(max(start, 0))
	cfg.Bus.Subscribe(start, s.deliver)
	s.stopWatch = s.watchStore()
	s.stopTyping = s.watchTyping()
	return s, nil
}

// Close stops presence announcements: called when the server shuts down,
// before its sockets close, since their users are about to reconnect to
// another instance rather than leave. Presence itself is updated by the
// Presence's own Close, which removes the sockets still registered by
// this instance (a socket that came back elsewhere is that instance's).
func (s *Service) Close() {
	s.announce.close()
	s.departures.close()
	s.stopTyping()
	s.stopWatch()
}

// UserLeft announces a user who left without a disconnect reaching this
// instance (an instance that died); presence implementations call it.
func (s *Service) UserLeft(u globalchat.User, onlineCount int) {
	s.announce.left(u, onlineCount)
}

// broadcast sends an event to the room on every instance.
func (s *Service) broadcast(event string, payload any) {
	if err := s.nsp.To(globalchat.Room).Emit(event, payload); err != nil {
		s.log.Warn("chat: broadcast", "event", event, "err", err)
	}
}

// deliver sends a message from the bus to this instance's sockets, with
// its seq as the recovery offset, or none when it is late: a client's
// offset stays at the higher seq it holds (the client takes an offset only
// from a last argument that is a string), and a socket checking for
// replayed duplicates does not take it for the message whose offset it
// would repeat. It still knows it by its seq (WithKey), the offset its
// replay carries, and drops it when its replay already had it.
func (s *Service) deliver(m globalchat.Message) {
	s.histCache.advance(m.Seq)
	if m.Seq > s.delivered.Load() {
		s.delivered.Store(m.Seq) // deliveries are sequential: no race to lose
	}
	s.recent.add(m)
	s.cfg.Traffic.MessagesOut(s.nsp.RoomSize(globalchat.Room))
	to := s.nsp.To(globalchat.Room).Local()
	if m.Late { // known by the offset a replay gives it, not sent
		to = to.WithKey(offset(m.Seq))
	} else {
		to = to.WithOffset(offset(m.Seq))
	}
	if err := to.Emit(EventMessage, m); err != nil {
		s.log.Error("chat: deliver", "seq", m.Seq, "err", err)
	}
}

// History returns up to limit messages with seq < before (before <= 0:
// the newest), oldest first, and whether older ones exist. It reads the
// cache first and the store for what the cache does not hold.
func (s *Service) History(ctx context.Context, before int64, limit int) ([]globalchat.Message, bool, error) {
	msgs, err := s.history(ctx, before, limit+1)
	if err != nil {
		return nil, false, err
	}
	more := len(msgs) > limit
	if more {
		msgs = msgs[1:]
	}
	return msgs, more, nil
}

func (s *Service) history(ctx context.Context, before int64, limit int) ([]globalchat.Message, error) {
	cached, err := s.cfg.Bus.Recent(ctx, before, limit)
	s.health.report("cache", err)
	if err == nil && len(cached) >= limit {
		return cached, nil
	}
	start := time.Now()
	stored, serr := s.cfg.Store.Before(ctx, before, limit)
	s.metrics.storeLatency.WithLabelValues("read").Observe(time.Since(start).Seconds())
	s.health.report("store", serr)
	if serr != nil {
		if err == nil && len(cached) > 0 {
			return cached, nil // the cache is better than nothing
		}
		return nil, serr
	}
	return mergeBySeq(stored, cached, limit), nil
}

// Online returns the number of users online and up to limit of them.
func (s *Service) Online(ctx context.Context, limit int) (int, []globalchat.User, error) {
	n, users, err := s.cfg.Presence.Online(ctx, limit)
	s.health.report("presence", err)
	return n, users, err
}

// mergeBySeq merges two oldest-first lists, without duplicates, keeping
// the newest limit.
func mergeBySeq(a, b []globalchat.Message, limit int) []globalchat.Message {
	out := make([]globalchat.Message, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Seq < b[j].Seq):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Seq < a[i].Seq:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}
