package chat

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/socketio"
	"github.com/google/uuid"
)

// ackOK and ackError are the two shapes of the chat:message ack.
type ackOK struct {
	OK      bool               `json:"ok"`
	Message globalchat.Message `json:"message"`
	// Remaining is how many more messages the user may send now, by
	// the per-user limit: clients warn before the limit, not after.
	Remaining int `json:"remaining"`
}

type ackError struct {
	OK    bool      `json:"ok"`
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code         globalchat.Code `json:"code"`
	Message      string          `json:"message"`
	RetryAfterMs int64           `json:"retryAfterMs,omitempty"`
}

// onMessage is the message flow: validate, rate limit, publish (which
// orders, caches and fans out), store, then ack. The ack comes only once
// the message is committed, so an acked message is never lost.
func (s *Service) onMessage(sock *socketio.Socket, e *socketio.Event) {
	s.cfg.Traffic.MessageIn()
	mb := sock.Data.(*member)
	m, d, err := s.accept(mb, e)
	if err != nil {
		code := globalchat.ErrorCode(err)
		s.metrics.messages.WithLabelValues(string(code)).Inc()
		if code == globalchat.CodeInvalid {
			s.cfg.Sampler.Log(context.Background(), slog.LevelInfo, "invalid_message", mb.addr,
				"chat: invalid message refused", slog.String("reason", globalchat.ErrorMessage(err)), slog.String("user", mb.User.ID))
		}
		if e.HasAck() {
			e.Ack(ackError{Error: errorBody{Code: code, Message: globalchat.ErrorMessage(err), RetryAfterMs: d.RetryAfter.Milliseconds()}})
		}
		return
	}
	s.metrics.messages.WithLabelValues("accepted").Inc()
	s.stoppedTyping(mb.User)
	if e.HasAck() {
		e.Ack(ackOK{OK: true, Message: m, Remaining: d.Remaining})
	}
}

// allow applies the rate limits: the user's, then its address's (which
// counts only what the user may send, so that one user over its limit
// does not use up its neighbours' budget). It returns the user's
// decision, with the wait of whichever limit refused.
func (s *Service) allow(ctx context.Context, mb *member) (globalchat.Decision, error) {
	u := mb.User
	d, err := s.cfg.Limiter.Allow(ctx, u.ID)
	s.health.report("rate limiter", err)
	if err != nil {
		return globalchat.Decision{}, err
	}
	if !d.Allowed {
		s.cfg.Sampler.Log(ctx, slog.LevelWarn, "rate limit", u.ID, "chat: rate limit exceeded",
			slog.String("user", u.ID), slog.String("addr", mb.addr), slog.Int("limit", d.Limit), slog.Duration("retryAfter", d.RetryAfter))
		return d, globalchat.Errorf(globalchat.CodeRateLimited,
			"at most %d messages %s: try again in %.1fs", d.Limit, per(d.Window), d.RetryAfter.Seconds())
	}
	d.RetryAfter, err = s.allowAddress(ctx, s.cfg.AddressLimiter, mb.addr, "messages")
	return d, err
}

// accept runs the flow up to the commit; it also returns the user's rate
// limit decision: how many more the user may send, or, when refused,
// how long to wait.
func (s *Service) accept(mb *member, e *socketio.Event) (globalchat.Message, globalchat.Decision, error) {
	u := mb.User
	content, clientMsgID, err := parseMessage(e.Args)
	if err != nil {
		return globalchat.Message{}, globalchat.Decision{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	d, err := s.allow(ctx, mb)
	if err != nil {
		return globalchat.Message{}, d, err
	}

	m := globalchat.Message{
		ID: uuid.Must(uuid.NewV7()).String(), UserID: u.ID, Username: u.Name, Content: content,
		CreatedAt: s.cfg.Now().UTC().Truncate(time.Millisecond), ClientMsgID: clientMsgID,
	}
	m, dup, err := s.cfg.Bus.Publish(ctx, m)
	s.health.report("bus", err)
	if err != nil {
		return globalchat.Message{}, globalchat.Decision{}, err
	}
	if err := s.store(ctx, m); err != nil {
		return globalchat.Message{}, globalchat.Decision{}, err
	}
	s.log.Info("chat: message accepted", "id", m.ID, "seq", m.Seq, "user", u.ID, "duplicate", dup)
	return m, d, nil
}

// spooledSaveTimeout bounds the commit of a spooled message: past it the
// store is marked away and the spool answers for the message.
const spooledSaveTimeout = 2 * time.Second

// store commits m, or, when the bus spooled it, lets the spool answer for
// it while the store does not: a published message is never refused to
// its sender because the store is down, and never acknowledged unless
// the store or the spool holds it.
func (s *Service) store(ctx context.Context, m globalchat.Message) error {
	if m.Spooled && s.cfg.State.StoreAway() {
		return nil // the spool's drain stores it when the store is back
	}
	saveCtx := ctx
	if m.Spooled {
		var cancel context.CancelFunc
		saveCtx, cancel = context.WithTimeout(ctx, spooledSaveTimeout)
		defer cancel()
	}
	start := time.Now()
	// Saved even when it is a duplicate: the first attempt may have been
	// published and lost before its commit; saving is idempotent.
	err := s.cfg.Store.Save(saveCtx, m)
	s.metrics.storeLatency.WithLabelValues("write").Observe(time.Since(start).Seconds())
	s.health.report("store", err)
	switch {
	case err == nil:
		if r, ok := s.cfg.Bus.(interface{ Release(...int64) }); ok && m.Spooled {
			r.Release(m.Seq)
		}
		return nil
	case m.Spooled && (errors.Is(err, globalchat.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)):
		s.cfg.State.SetStoreAway(true, err)
		return nil
	case m.Spooled:
		s.log.Error("chat: spooled message refused by the store", "id", m.ID, "seq", m.Seq, "err", err)
		return err
	default:
		s.log.Error("chat: message published but not stored", "id", m.ID, "seq", m.Seq, "err", err)
		return err
	}
}

// watchStore pings the store every second while it is marked away, and
// marks it back when it answers; it returns the function that stops it.
func (s *Service) watchStore() func() {
	return every(time.Second, func(ctx context.Context) {
		if !s.cfg.State.StoreAway() {
			return
		}
		c, cancel := context.WithTimeout(ctx, spooledSaveTimeout)
		defer cancel()
		if s.cfg.Store.Ping(c) == nil {
			s.cfg.State.SetStoreAway(false, nil)
		}
	})
}

// every runs f once an interval, in a goroutine of its own, until the
// returned function is called; that function returns once f has.
func every(interval time.Duration, f func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			f(ctx)
		}
	}()
	return func() { cancel(); <-done }
}
