package chat

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/inmem"
	"github.com/globalchat/globalchat/internal/ratelimittest"
	"github.com/globalchat/globalchat/internal/testwait"
	"github.com/globalchat/globalchat/socketio/sockettest"
	"github.com/golang-jwt/jwt/v5"
)

// connsOf returns how many connections presence holds for user.
func (e *chatEnv) connsOf(user string) int {
	n := 0
	for _, c := range e.presence.Conns() {
		if c.User.ID == user {
			n++
		}
	}
	return n
}

// The connection flow: history (the newest 50, oldest first), then who the
// client is, with a guest token to keep; the token names the same guest
// again; bad credentials are refused at CONNECT.
func TestConnectSendsHistoryThenSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	for seq := int64(1); seq <= 60; seq++ {
		e.store.Save(context.Background(), globalchat.Message{ID: "m", Seq: seq, Content: "old"})
	}
	c, _ := sockettest.Connect(t, e.io, map[string]string{"username": "  ann "}, sockettest.Options{})
	h := history(t, c.Next())
	if len(h) != HistorySize || h[0].Seq != 11 || h[len(h)-1].Seq != 60 {
		t.Fatalf("history of %d messages, %d to %d; want the newest %d, oldest first", len(h), h[0].Seq, h[len(h)-1].Seq, HistorySize)
	}
	var sess sessionPayload
	ev := c.Next()
	if ev.Name != EventSession {
		t.Fatalf("event %q after the history, want %s", ev.Name, EventSession)
	}
	ev.Decode(t, 0, &sess)
	if sess.Username != "ann" || !strings.HasPrefix(sess.UserID, "guest:") || !strings.HasPrefix(sess.GuestToken, "g1.") {
		t.Fatalf("session %+v", sess)
	}

	// The token brings the same guest back, and is not handed out again.
	_, again := e.join(map[string]string{"username": "ann", "guestToken": sess.GuestToken})
	if again.UserID != sess.UserID || again.GuestToken != "" {
		t.Fatalf("second connection %+v, want user %s without a new token", again, sess.UserID)
	}

	for _, tc := range []struct {
		auth any
		want string
	}{
		{map[string]string{"username": "ann", "guestToken": sess.GuestToken + "x"}, "invalid guest token"},
		{map[string]string{"username": "   "}, "username"},
		{map[string]int{"username": 5}, "auth must be an object"},
	} {
		_, err := sockettest.Open(t, e.io, sockettest.Options{}).Join(tc.auth)
		var ce *sockettest.ConnectError
		if !errors.As(err, &ce) || !strings.Contains(ce.Message, tc.want) {
			t.Errorf("auth %v: %v, want a connect_error saying %q", tc.auth, err, tc.want)
		}
	}
	if got := e.counter("chat_refused_connections_total", ""); got != 3 {
		t.Errorf("refused connections counted %v, want 3", got)
	}
}

// Presence: a user's first connection is announced to the room, a second
// tab is not; the last one to close is announced as a departure, an
// earlier one is not.
func TestPresenceAnnouncesFirstAndLastConnectionOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	ann, annSess := e.guest("ann")
	if p := presenceOf(t, ann, EventUserJoined); p.UserID != annSess.UserID || p.OnlineCount != 1 {
		t.Fatalf("ann's own join: %+v", p)
	}
	bob, bobSess := e.guest("bob")
	if p := presenceOf(t, ann, EventUserJoined); p.UserID != bobSess.UserID || p.Username != "bob" || p.OnlineCount != 2 {
		t.Fatalf("ann saw %+v, want bob joined, 2 online", p)
	}
	presenceOf(t, bob, EventUserJoined)

	// Ann's second tab: nothing announced. What ann's second tab says
	// next is the first thing the others get.
	ann2, _ := e.join(map[string]string{"username": "ann", "guestToken": annSess.GuestToken})
	say(t, ann2, "from the second tab")
	for _, c := range []*sockettest.Client{ann, bob} {
		if m, _ := received(t, c); m.Content != "from the second tab" {
			t.Fatalf("got %q", m.Content)
		}
	}
	received(t, ann2)
	if n, _, _ := e.svc.Online(context.Background(), 10); n != 2 {
		t.Fatalf("%d online, want 2 (ann's tabs are one user)", n)
	}

	// The second tab goes: ann is still there.
	ann2.Close()
	testwait.For(t, "ann's second tab forgotten", func() bool { return e.connsOf(annSess.UserID) == 1 })
	say(t, bob, "still here?")
	for _, c := range []*sockettest.Client{ann, bob} {
		if m, _ := received(t, c); m.Content != "still here?" {
			t.Fatalf("got %q", m.Content)
		}
	}

	// Her last one goes: the room is told, with the count after it.
	ann.Disconnect()
	if p := presenceOf(t, bob, EventUserLeft); p.UserID != annSess.UserID || p.OnlineCount != 1 {
		t.Fatalf("bob saw %+v, want ann left, 1 online", p)
	}
	n, users, err := e.svc.Online(context.Background(), 10)
	if err != nil || n != 1 || len(users) != 1 || users[0].ID != bobSess.UserID {
		t.Fatalf("online: %d %v %v, want bob alone", n, users, err)
	}
}

// The message flow: validated, numbered, stored, acknowledged with the
// stored message, and delivered to everyone in the room with its seq as
// the recovery offset; a retry with the same client id is the same message.
func TestMessageIsStoredAckedAndBroadcast(t *testing.T) {
	e := newEnv(t, envOptions{})
	ann, annSess := e.guest("ann")
	presenceOf(t, ann, EventUserJoined)
	bob, _ := e.guest("bob")
	presenceOf(t, ann, EventUserJoined)
	presenceOf(t, bob, EventUserJoined)

	a := send(t, ann, map[string]string{"content": "  hello\tworld\n ", "clientMsgId": "c1"})
	m := a.Message
	if !a.OK || m.Seq != 1 || m.Content != "hello\tworld" || m.UserID != annSess.UserID || m.Username != "ann" ||
		m.ClientMsgID != "c1" || m.ID == "" || m.CreatedAt.IsZero() {
		t.Fatalf("ack %+v", a)
	}
	if st := e.store.stored(); len(st) != 1 || st[0].ID != m.ID {
		t.Fatalf("acked but the store holds %v", st)
	}
	for _, c := range []*sockettest.Client{ann, bob} {
		got, off := received(t, c)
		if got.ID != m.ID || got.Seq != 1 || got.Content != m.Content || off != "1" {
			t.Fatalf("delivered %+v at offset %q, want the acked message at 1", got, off)
		}
	}

	// The retry of a message whose ack was lost: the same message, not
	// delivered again.
	if again := send(t, ann, map[string]string{"content": "hello world", "clientMsgId": "c1"}); !again.OK || again.Message.ID != m.ID || again.Message.Seq != 1 {
		t.Fatalf("retry acked %+v, want the first message", again)
	}
	say(t, ann, "next")
	if got, off := received(t, bob); got.Content != "next" || got.Seq != 2 || off != "2" {
		t.Fatalf("after the retry bob got %+v at %q, want the next message", got, off)
	}
	if st := e.store.stored(); len(st) != 2 {
		t.Fatalf("store holds %d messages, want 2", len(st))
	}
	testwait.For(t, "delivered up to 2", func() bool { return e.svc.Delivered() == 2 })

	// Without an ack asked for, a message still goes out.
	ann.Emit(EventMessage, map[string]string{"content": "no ack"})
	if got, _ := received(t, bob); got.Content != "no ack" || got.Seq != 3 {
		t.Fatalf("bob got %+v", got)
	}
	// Counted once its handler is over, which the delivery may precede.
	testwait.For(t, "4 messages counted accepted", func() bool { return e.counter("chat_messages_total", "accepted") == 4 })
}

// Invalid payloads are refused with invalid_message, and nothing reaches
// the room or the store.
func TestInvalidMessagesAreRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	ann, _ := e.guest("ann")
	presenceOf(t, ann, EventUserJoined)
	cases := map[string]any{
		"a string":         "hello",
		"a number":         42,
		"no content":       map[string]any{},
		"content not text": map[string]any{"content": 5},
		"empty":            map[string]any{"content": ""},
		"blank":            map[string]any{"content": " \n\t "},
		"too long":         map[string]any{"content": strings.Repeat("é", MaxContent+1)},
		"control":          map[string]any{"content": "a\x00b"},
		"long client id":   map[string]any{"content": "ok", "clientMsgId": strings.Repeat("x", maxClientMsgID+1)},
	}
	for name, payload := range cases {
		a := send(t, ann, payload)
		if a.OK || a.Error.Code != globalchat.CodeInvalid || a.Error.Message == "" {
			t.Errorf("%s: ack %+v, want invalid_message", name, a)
		}
	}
	// No argument at all, with and without an ack.
	if args := ann.EmitWithAck(EventMessage); !strings.Contains(string(args[0]), string(globalchat.CodeInvalid)) {
		t.Errorf("no payload: ack %s", args[0])
	}
	ann.Emit(EventMessage, "no ack asked")
	// The longest message is accepted, and is the first thing delivered.
	longest := strings.Repeat("é", MaxContent)
	say(t, ann, longest)
	if got, _ := received(t, ann); got.Content != longest || got.Seq != 1 {
		t.Fatalf("first delivery seq %d, want the longest message as 1", got.Seq)
	}
	if st := e.store.stored(); len(st) != 1 {
		t.Fatalf("store holds %d messages, want 1", len(st))
	}
	if got := e.counter("chat_messages_total", string(globalchat.CodeInvalid)); got != float64(len(cases)+2) {
		t.Errorf("invalid counted %v, want %d", got, len(cases)+2)
	}
}

// Each user has its budget of messages a minute; each ack says how many
// are left, past it the ack says how long to wait, and a minute later it
// may send again.
func TestRateLimitPerUser(t *testing.T) {
	e := newEnv(t, envOptions{perMinute: 2})
	ann, _ := e.guest("ann")
	bob, _ := e.guest("bob")
	for i, left := range []int{1, 0} {
		if a := send(t, ann, map[string]string{"content": strconv.Itoa(i + 1)}); !a.OK || a.Remaining != left {
			t.Fatalf("message %d: %+v, want accepted with %d left", i+1, a, left)
		}
	}
	a := send(t, ann, map[string]string{"content": "3"})
	if a.OK || a.Error.Code != globalchat.CodeRateLimited || a.Error.RetryAfterMs != 60_000 ||
		!strings.Contains(a.Error.Message, "at most 2 messages a minute") {
		t.Fatalf("third message: %+v, want rate_limited, retry in 60s", a)
	}
	say(t, bob, "bob has his own budget")
	e.clock.Advance(time.Minute)
	say(t, ann, "a minute later")
	if st := e.store.stored(); len(st) != 4 {
		t.Fatalf("store holds %d messages, want the 4 accepted", len(st))
	}
}

// One address shares one budget, whatever users it makes up, for
// messages and for connections.
func TestAddressLimits(t *testing.T) {
	perAddress := func(n int) func(*ratelimittest.Clock) globalchat.RateLimiter {
		return func(c *ratelimittest.Clock) globalchat.RateLimiter { return inmem.NewRateLimiter(n, c.Now) }
	}
	e := newEnv(t, envOptions{addressLimiter: perAddress(1), joinLimiter: perAddress(3)})
	const here, there = "198.51.100.7", "203.0.113.9"
	ann, _ := e.guest("ann", here)
	bob, _ := e.guest("bob", here)
	carol, _ := e.guest("carol", there)
	say(t, ann, "first from here")
	a := send(t, bob, map[string]string{"content": "second from here"})
	if a.OK || a.Error.Code != globalchat.CodeRateLimited || !strings.Contains(a.Error.Message, "messages a minute from one address") {
		t.Fatalf("second message from one address: %+v, want rate_limited", a)
	}
	say(t, carol, "from elsewhere")

	e.guest("dave", here)
	_, err := sockettest.Open(t, e.io, sockettest.Options{Address: here}).Join(map[string]string{"username": "eve"})
	var ce *sockettest.ConnectError
	if !errors.As(err, &ce) || !strings.Contains(ce.Message, "at most 3 connections a minute from one address") {
		t.Fatalf("fourth connection from one address: %v", err)
	}
	e.guest("eve", there)
	if got := e.counter("chat_address_limited_total", "messages"); got != 1 {
		t.Errorf("address-limited messages counted %v, want 1", got)
	}
}

// A message the store cannot take is not acknowledged.
func TestStoreDownRefusesTheMessage(t *testing.T) {
	e := newEnv(t, envOptions{})
	ann, _ := e.guest("ann")
	e.store.setErrors(globalchat.ErrUnavailable, nil)
	a := send(t, ann, map[string]string{"content": "lost?"})
	if a.OK || a.Error.Code != globalchat.CodeUnavailable {
		t.Fatalf("ack %+v, want unavailable", a)
	}
	e.store.setErrors(nil, nil)
	say(t, ann, "back")
}

// History reads the bus's cache, and the store for what the cache does
// not hold; a store that fails leaves what the cache has.
func TestHistoryReadsCacheThenStore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	for seq := int64(1); seq <= 10; seq++ {
		e.store.Save(ctx, globalchat.Message{ID: "old", Seq: seq})
	}
	if err := e.bus.EnsureSeq(ctx, 10); err != nil {
		t.Fatal(err)
	}
	ann, _ := e.guest("ann")
	for _, s := range []string{"11", "12", "13"} {
		say(t, ann, s)
	}
	check := func(before int64, limit int, want []int64, wantMore bool) {
		t.Helper()
		got, more, err := e.svc.History(ctx, before, limit)
		if err != nil || !equalSeqs(seqs(got), want) || more != wantMore {
			t.Fatalf("History(%d, %d) = %v, more %v, %v; want %v, more %v", before, limit, seqs(got), more, err, want, wantMore)
		}
	}
	check(0, 2, []int64{12, 13}, true) // the cache alone
	check(0, 5, []int64{9, 10, 11, 12, 13}, true)
	check(12, 2, []int64{10, 11}, true) // half and half
	check(3, 5, []int64{1, 2}, false)   // the store alone

	e.store.setErrors(nil, globalchat.ErrUnavailable)
	check(0, 5, []int64{11, 12, 13}, false) // what the cache has
	if _, _, err := e.svc.History(ctx, 5, 5); !errors.Is(err, globalchat.ErrUnavailable) {
		t.Fatalf("store down, nothing cached: %v, want unavailable", err)
	}
	// With nothing to read, a new connection gets an empty history rather
	// than none.
	brokenCache := func(cfg *Config) { cfg.Bus = failingRecent{cfg.Bus} }
	e2 := newEnv(t, envOptions{config: brokenCache})
	e2.store.setErrors(nil, globalchat.ErrUnavailable)
	c, _ := sockettest.Connect(t, e2.io, map[string]string{"username": "bob"}, sockettest.Options{})
	if h := history(t, c.Next()); len(h) != 0 {
		t.Fatalf("history %v with nothing to read", h)
	}
}

// failingRecent is a bus whose cache cannot be read.
type failingRecent struct{ globalchat.Bus }

func (failingRecent) Recent(context.Context, int64, int) ([]globalchat.Message, error) {
	return nil, globalchat.ErrUnavailable
}

func equalSeqs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A client that lost its connection comes back with its session and last
// offset: it gets what it missed, in order, instead of the history, and
// is not announced again.
func TestReconnectRecoversMissedMessages(t *testing.T) {
	e := newEnv(t, envOptions{})
	ann, lost, bob := e.annAndBob()

	ann.Drop()
	if p := presenceOf(t, bob, EventUserLeft); p.UserID != lost.sess.UserID {
		t.Fatalf("bob saw %+v, want ann gone", p)
	}
	say(t, bob, "missed 1")
	say(t, bob, "missed 2")
	// Delivered here before ann comes back (else they reach her live).
	received(t, bob)
	received(t, bob)

	back := e.recover("ann", lost.sess, lost.sid, lost.pid, lost.off)
	for _, want := range []string{"missed 1", "missed 2"} {
		if m, _ := received(t, back); m.Content != want {
			t.Fatalf("replayed %q, want %q", m.Content, want)
		}
	}
	if ev := back.Next(); ev.Name != EventSession {
		t.Fatalf("after the replay %q, want %s (and no history)", ev.Name, EventSession)
	}
}

// The history a newcomer gets carries the offset of the last message
// delivered before it joined, so that a client cut before any message
// reached it still recovers what it missed.
func TestNewcomerRecoversFromItsHistory(t *testing.T) {
	e := newEnv(t, envOptions{})
	bob, _ := e.guest("bob")
	before := say(t, bob, "before ann")
	bob.Expect(EventMessage) // delivered: ann joins after it
	auth := map[string]string{"username": "ann"}
	ann, reply := sockettest.Connect(t, e.io, auth, sockettest.Options{})
	var connected struct{ SID, PID string }
	json.Unmarshal(reply, &connected)
	ev := ann.Expect(EventHistory)
	var off string
	ev.Decode(t, len(ev.Args)-1, &off)
	if h := history(t, ev); len(ev.Args) != 2 || off != offset(before.Seq) || h[len(h)-1].ID != before.ID {
		t.Fatalf("history %s, want it to end with %q and carry offset %d", ev.Args, before.Content, before.Seq)
	}
	var sess sessionPayload
	ann.Expect(EventSession).Decode(t, 0, &sess)
	ann.Drop()
	bob.Expect(EventUserLeft) // the server saw ann go and kept her session
	missed := say(t, bob, "missed")
	bob.Expect(EventMessage) // delivered before ann is back: only a replay brings it

	back := e.recover("ann", sess, connected.SID, connected.PID, off)
	if m, _ := received(t, back); m.ID != missed.ID {
		t.Fatalf("replayed %+v, want %q", m, missed.Content)
	}
}

// A late message (below a seq already delivered, marked by the failover's
// deliverer) goes out without a recovery offset, so the offset a client
// holds stays at the higher seq: it never moves back, and the late message
// does not share the offset of the message it came after. Every receiver
// of the one encoding gets it so.
func TestLateMessageCarriesNoOffset(t *testing.T) {
	e := newEnv(t, envOptions{})
	ann, _ := e.guest("ann")
	presenceOf(t, ann, EventUserJoined)
	bob, _ := e.guest("bob")
	presenceOf(t, ann, EventUserJoined)
	presenceOf(t, bob, EventUserJoined)
	e.svc.deliver(globalchat.Message{ID: "nine", Seq: 9})
	e.svc.deliver(globalchat.Message{ID: "late", Seq: 7, Late: true})
	for _, c := range []*sockettest.Client{ann, bob} {
		if m, off := received(t, c); m.ID != "nine" || off != "9" {
			t.Fatalf("delivered %+v at %q, want offset 9", m, off)
		}
		ev := c.Next()
		var m globalchat.Message
		ev.Decode(t, 0, &m)
		if ev.Name != EventMessage || m.ID != "late" || len(ev.Args) != 1 {
			t.Fatalf("delivered %s %s, want the late message alone, without an offset", ev.Name, ev.Args)
		}
	}
	if e.svc.Delivered() != 9 {
		t.Fatalf("delivered up to %d, want 9", e.svc.Delivered())
	}
}

// A JWT connection is closed once its token expires (past the leeway), so
// that the client reconnects with a fresh one.
func TestExpiredTokenClosesTheConnection(t *testing.T) {
	const secret = "a-jwt-secret-for-the-flow-tests"
	exp := time.Now().Add(time.Minute).Truncate(time.Second)
	// The service's clock says the token is a second from its end, leeway
	// included.
	almost := func() time.Time { return exp.Add(jwtLeeway) }
	e := newEnv(t, envOptions{jwtSecret: secret, now: almost})
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "u1", "name": "ann", "exp": exp.Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	c, sess := e.join(map[string]string{"token": tok})
	if sess.UserID != "u1" || sess.Username != "ann" || sess.GuestToken != "" {
		t.Fatalf("session %+v", sess)
	}
	c.WaitClosed()
	if got := e.counter("chat_expired_connections_total", ""); got != 1 {
		t.Errorf("expired connections counted %v, want 1", got)
	}
	if _, err := sockettest.Open(t, e.io, sockettest.Options{}).Join(map[string]string{"username": "ann"}); err == nil {
		t.Fatal("a guest accepted in JWT mode")
	}
}

// Departures found by presence itself (a dead instance's users) are
// announced, until the service closes.
func TestUserLeftIsAnnouncedUntilClose(t *testing.T) {
	e := newEnv(t, envOptions{})
	ann, _ := e.guest("ann")
	presenceOf(t, ann, EventUserJoined)
	e.svc.UserLeft(globalchat.User{ID: "guest:x", Name: "x"}, 4)
	if p := presenceOf(t, ann, EventUserLeft); p.UserID != "guest:x" || p.OnlineCount != 4 {
		t.Fatalf("got %+v", p)
	}
	e.svc.Close()
	e.svc.UserLeft(globalchat.User{ID: "guest:y", Name: "y"}, 3)
	say(t, ann, "after close")
	if m, _ := received(t, ann); m.Content != "after close" {
		t.Fatalf("got %q", m.Content)
	}
}

func TestNewNeedsEveryDependency(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("an empty config accepted")
	}
}

// A client back within the leave grace was never gone: neither its
// recovery (same socket) nor a reload (a new socket of the same user)
// sends anyone a user:left or a user:joined, and it is counted online
// throughout.
func TestAReturnWithinTheGraceIsNoLeave(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *Config) { c.LeaveGrace = time.Minute }})
	ann, lost, bob := e.annAndBob()

	ann.Drop()
	testwait.For(t, "the server to see ann go", func() bool { return e.svc.departures.len() == 1 })
	say(t, bob, "missed")
	if m, _ := received(t, bob); m.Content != "missed" { // nothing before it: no user:left
		t.Fatalf("bob got %q", m.Content)
	}
	if n, _, _ := e.svc.Online(context.Background(), 10); n != 2 {
		t.Fatalf("%d online while ann is away within the grace, want 2", n)
	}
	back := e.recover("ann", lost.sess, lost.sid, lost.pid, lost.off)
	if m, _ := received(t, back); m.Content != "missed" {
		t.Fatalf("replayed %q", m.Content)
	}
	if e.svc.departures.len() != 0 || e.counter("chat_presence_returns_total", "") != 1 {
		t.Fatalf("%d leaves pending, %v returns counted; want 0 and 1", e.svc.departures.len(), e.counter("chat_presence_returns_total", ""))
	}

	// A reload: the old socket is dropped, a new one joins as ann.
	back.Drop()
	testwait.For(t, "the server to see ann go again", func() bool { return e.svc.departures.len() == 1 })
	e.join(map[string]string{"username": "ann", "guestToken": lost.sess.GuestToken})
	say(t, bob, "after")
	if m, _ := received(t, bob); m.Content != "after" { // no user:joined before it
		t.Fatalf("bob got %q", m.Content)
	}
	if n, _, _ := e.svc.Online(context.Background(), 10); n != 2 {
		t.Fatalf("%d online, want 2", n)
	}
}

// A user who does not come back is announced gone once the grace has
// passed, not before.
func TestALeaveIsAnnouncedAfterTheGrace(t *testing.T) {
	const grace = time.Second // a DISCONNECT's leave must come well within it
	e := newEnv(t, envOptions{config: func(c *Config) { c.LeaveGrace = grace }})
	ann, annSess := e.guest("ann")
	bob, _ := e.guest("bob")
	presenceOf(t, bob, EventUserJoined)
	start := time.Now()
	ann.Drop()
	if p := presenceOf(t, bob, EventUserLeft); p.UserID != annSess.UserID || p.OnlineCount != 1 {
		t.Fatalf("bob saw %+v, want ann left, 1 online", p)
	}
	if took := time.Since(start); took < grace {
		t.Fatalf("user:left after %v, within the grace of %v", took, grace)
	}
	if n, _, _ := e.svc.Online(context.Background(), 10); n != 1 {
		t.Fatalf("%d online after the grace, want 1", n)
	}

	// One who means to leave (a Socket.IO DISCONNECT) leaves at once.
	carl, carlSess := e.guest("carl")
	presenceOf(t, bob, EventUserJoined)
	start = time.Now()
	carl.Disconnect()
	if p := presenceOf(t, bob, EventUserLeft); p.UserID != carlSess.UserID {
		t.Fatalf("bob saw %+v, want carl left", p)
	}
	if took := time.Since(start); took >= grace {
		t.Fatalf("user:left after %v for a DISCONNECT: it waited for the grace", took)
	}
}

// flakyPresence fails its first failRemoves removals, as a Redis that is
// down would.
type flakyPresence struct {
	globalchat.Presence
	failRemoves atomic.Int64
}

func (p *flakyPresence) Remove(ctx context.Context, socketID string) (globalchat.Departure, error) {
	if p.failRemoves.Add(-1) >= 0 {
		return globalchat.Departure{}, globalchat.ErrUnavailable
	}
	return p.Presence.Remove(ctx, socketID)
}

// A removal that fails (presence unreachable) is tried again until it is
// done: the user is announced gone late, not kept online for good.
func TestAFailedLeaveIsTriedAgain(t *testing.T) {
	flaky := &flakyPresence{}
	e := newEnv(t, envOptions{config: func(c *Config) {
		flaky.Presence = c.Presence
		c.Presence = flaky
	}})
	ann, annSess := e.guest("ann")
	bob, _ := e.guest("bob")
	presenceOf(t, bob, EventUserJoined)
	flaky.failRemoves.Store(2)
	ann.Drop()
	if p := presenceOf(t, bob, EventUserLeft); p.UserID != annSess.UserID || p.OnlineCount != 1 {
		t.Fatalf("bob saw %+v, want ann left, 1 online", p)
	}
	if n := flaky.failRemoves.Load(); n != -1 {
		t.Fatalf("%d removals left to fail, want the two failed and one done", n+1)
	}
}
