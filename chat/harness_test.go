package chat

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/inmem"
	"github.com/globalchat/globalchat/internal/ratelimittest"
	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/socketio/sockettest"
	"github.com/prometheus/client_golang/prometheus"
)

// memStore is a MessageStore over a slice; its errors can be set to make
// it fail.
type memStore struct {
	mu               sync.Mutex
	msgs             []globalchat.Message // by seq
	saveErr, readErr error
}

var _ globalchat.MessageStore = (*memStore)(nil)

func (s *memStore) Save(ctx context.Context, msgs ...globalchat.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveErr != nil {
		return s.saveErr
	}
	for _, m := range msgs {
		i, found := slices.BinarySearchFunc(s.msgs, m.Seq, func(a globalchat.Message, seq int64) int { return int(a.Seq - seq) })
		if !found {
			s.msgs = slices.Insert(s.msgs, i, m)
		}
	}
	return nil
}

func (s *memStore) Before(_ context.Context, before int64, limit int) ([]globalchat.Message, error) {
	out, err := s.where(func(m globalchat.Message) bool { return before <= 0 || m.Seq < before })
	return out[max(0, len(out)-limit):], err
}

func (s *memStore) After(_ context.Context, after int64, limit int) ([]globalchat.Message, error) {
	out, err := s.where(func(m globalchat.Message) bool { return m.Seq > after })
	return out[:min(limit, len(out))], err
}

// where returns the messages keep keeps, by seq, or the read error set.
func (s *memStore) where(keep func(globalchat.Message) bool) ([]globalchat.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr != nil {
		return nil, s.readErr
	}
	var out []globalchat.Message
	for _, m := range s.msgs {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *memStore) LastSeq(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr != nil {
		return 0, s.readErr
	}
	if len(s.msgs) == 0 {
		return 0, nil
	}
	return s.msgs[len(s.msgs)-1].Seq, nil
}

func (s *memStore) Ping(context.Context) error { return nil }
func (s *memStore) Close() error               { return nil }

func (s *memStore) setErrors(save, read error) {
	s.mu.Lock()
	s.saveErr, s.readErr = save, read
	s.mu.Unlock()
}

func (s *memStore) stored() []globalchat.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// chatEnv is a chat service on a Socket.IO server, over in-memory
// implementations, driven by in-process clients (sockettest).
type chatEnv struct {
	t        *testing.T
	io       *socketio.Server
	svc      *Service
	store    *memStore
	bus      *inmem.Bus
	presence *inmem.Presence
	clock    *ratelimittest.Clock
	reg      *prometheus.Registry
}

// envOptions change the defaults of newEnv.
type envOptions struct {
	perMinute       int // per user; default 20
	addressLimiter  func(*ratelimittest.Clock) globalchat.RateLimiter
	joinLimiter     func(*ratelimittest.Clock) globalchat.RateLimiter
	jwtSecret       string // JWT mode when set
	now             func() time.Time
	presenceCeiling int           // PresenceThreshold
	presenceWindow  time.Duration // PresenceInterval
	config          func(*Config) // last changes
}

func newEnv(t *testing.T, o envOptions) *chatEnv {
	t.Helper()
	e := &chatEnv{t: t, store: &memStore{}, presence: inmem.NewPresence(),
		clock: ratelimittest.NewClock(), reg: prometheus.NewRegistry()}
	e.bus = inmem.NewBus(inmem.BusOptions{})
	io, err := socketio.NewServer(socketio.Options{Recovery: &socketio.RecoveryOptions{
		Replayer: Replayer{Bus: e.bus, Store: e.store, Delivered: func() int64 {
			if e.svc == nil {
				return 0
			}
			return e.svc.Delivered()
		}, Recent: func(after, upTo int64) ([]globalchat.Message, bool) {
			if e.svc == nil {
				return nil, false
			}
			return e.svc.Recent(after, upTo)
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.io = io
	auth := NewAuthenticator(o.jwtSecret, guests(t, "a-guest-key-of-32-bytes-or-so..."))
	cfg := Config{
		IO: io, Store: e.store, Bus: e.bus, Presence: e.presence, Typing: inmem.NewTyping(),
		Limiter: inmem.NewRateLimiter(o.perMinute, e.clock.Now), Auth: auth,
		Registerer: e.reg, Now: o.now,
		PresenceThreshold: o.presenceCeiling, PresenceInterval: o.presenceWindow,
	}
	if o.addressLimiter != nil {
		cfg.AddressLimiter = o.addressLimiter(e.clock)
	}
	if o.joinLimiter != nil {
		cfg.JoinLimiter = o.joinLimiter(e.clock)
	}
	if o.config != nil {
		o.config(&cfg)
	}
	e.svc, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.svc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		io.Shutdown(ctx)
		e.bus.Close()
	})
	return e
}

// guest connects a guest named name from addr (default one address for
// all) and returns the client and its chat:session.
func (e *chatEnv) guest(name string, addr ...string) (*sockettest.Client, sessionPayload) {
	e.t.Helper()
	return e.join(map[string]string{"username": name}, addr...)
}

// join connects with auth, reads the connection's chat:history and
// chat:session, and returns the client and the session.
func (e *chatEnv) join(auth any, addr ...string) (*sockettest.Client, sessionPayload) {
	e.t.Helper()
	opts := sockettest.Options{}
	if len(addr) > 0 {
		opts.Address = addr[0]
	}
	c, _ := sockettest.Connect(e.t, e.io, auth, opts)
	// The socket joins the room before its history is read, so that no
	// message falls between the two: a message delivered meanwhile may
	// come before or between the history and the session (clients place
	// messages by seq). It stays for the test to read.
	c.Expect(EventHistory)
	var sess sessionPayload
	c.Expect(EventSession).Decode(e.t, 0, &sess)
	return c, sess
}

// lostSession is what a client keeps to recover: its chat:session, the
// socket and recovery ids of its CONNECT reply, and its last offset.
type lostSession struct {
	sess          sessionPayload
	sid, pid, off string
}

// annAndBob connects ann, keeping what she needs to recover, then bob;
// bob says one message, which both receive. Each has read everything.
func (e *chatEnv) annAndBob() (ann *sockettest.Client, lost lostSession, bob *sockettest.Client) {
	t := e.t
	t.Helper()
	ann, reply := sockettest.Connect(t, e.io, map[string]string{"username": "ann"}, sockettest.Options{})
	var connected struct{ SID, PID string }
	json.Unmarshal(reply, &connected)
	lost.sid, lost.pid = connected.SID, connected.PID
	history(t, ann.Next())
	ann.Next().Decode(t, 0, &lost.sess)
	presenceOf(t, ann, EventUserJoined)
	bob, _ = e.guest("bob")
	presenceOf(t, ann, EventUserJoined)
	presenceOf(t, bob, EventUserJoined)
	say(t, bob, "seen")
	received(t, bob)
	_, lost.off = received(t, ann)
	return ann, lost, bob
}

// recover comes back as the guest of sess with the lost session pid and
// offset, and fails unless the socket sid is recovered.
func (e *chatEnv) recover(name string, sess sessionPayload, sid, pid, off string) *sockettest.Client {
	e.t.Helper()
	c, reply := sockettest.Connect(e.t, e.io, map[string]string{"username": name, "guestToken": sess.GuestToken,
		"pid": pid, "offset": off}, sockettest.Options{})
	var again struct{ SID string }
	json.Unmarshal(reply, &again)
	if again.SID != sid {
		e.t.Fatalf("recovered as %q, want the same socket %q", again.SID, sid)
	}
	return c
}

// ack is the chat:message acknowledgement, both shapes.
type ack struct {
	OK        bool               `json:"ok"`
	Message   globalchat.Message `json:"message"`
	Remaining int                `json:"remaining"`
	Error     errorBody          `json:"error"`
}

// send sends a chat:message with an ack and returns the ack.
func send(t *testing.T, c *sockettest.Client, payload any) ack {
	t.Helper()
	args := c.EmitWithAck(EventMessage, payload)
	if len(args) != 1 {
		t.Fatalf("ack with %d arguments", len(args))
	}
	var a ack
	if err := json.Unmarshal(args[0], &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// say sends content and fails unless it is accepted.
func say(t *testing.T, c *sockettest.Client, content string) globalchat.Message {
	t.Helper()
	a := send(t, c, map[string]string{"content": content})
	if !a.OK {
		t.Fatalf("%q refused: %+v", content, a.Error)
	}
	return a.Message
}

// received reads the next event of c, which must be a chat:message, and
// returns the message and its recovery offset ("" when it carries none:
// the client keeps the one it holds).
func received(t *testing.T, c *sockettest.Client) (globalchat.Message, string) {
	t.Helper()
	ev := c.Next()
	if ev.Name != EventMessage {
		t.Fatalf("event %q, want %s", ev.Name, EventMessage)
	}
	var m globalchat.Message
	var off string
	ev.Decode(t, 0, &m)
	if len(ev.Args) > 1 {
		ev.Decode(t, len(ev.Args)-1, &off)
	}
	return m, off
}

// presenceOf reads the next event of c, which must be name, and returns
// its payload.
func presenceOf(t *testing.T, c *sockettest.Client, name string) presencePayload {
	t.Helper()
	ev := c.Next()
	if ev.Name != name {
		t.Fatalf("event %q, want %s", ev.Name, name)
	}
	var p presencePayload
	ev.Decode(t, 0, &p)
	return p
}

// history is the chat:history payload as a client reads it.
func history(t *testing.T, ev sockettest.Event) []globalchat.Message {
	t.Helper()
	if ev.Name != EventHistory {
		t.Fatalf("event %q, want %s", ev.Name, EventHistory)
	}
	var h historyPayload
	ev.Decode(t, 0, &h)
	if h.Messages == nil {
		t.Fatal("history without a messages array")
	}
	return h.Messages
}

// counter returns the value of a chat counter with that label value.
func (e *chatEnv) counter(name, label string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
