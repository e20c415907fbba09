package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/socketio"
)

// member is what the chat keeps on a socket (its Data).
type member struct {
	Identity
	addr string // the client's address, for the per-address limits
}

// authenticate is the namespace middleware: the connection flow's "verify
// user" step, and the per-address bound on joins, so that a client making
// up new guests does not announce one after the other for ever.
func (s *Service) authenticate(sock *socketio.Socket) error {
	hs := sock.Handshake()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := s.allowAddress(ctx, s.cfg.JoinLimiter, hs.Address, "connections"); err != nil {
		s.metrics.refusedConnects.Inc()
		return &socketio.ConnectError{Message: globalchat.ErrorMessage(err)}
	}
	id, err := s.cfg.Auth.Authenticate(hs.Auth)
	if err != nil {
		s.metrics.refusedConnects.Inc()
		s.cfg.Sampler.Log(ctx, slog.LevelInfo, "auth_refused", hs.Address,
			"chat: connection refused", slog.String("reason", err.Error()))
		return &socketio.ConnectError{Message: err.Error()}
	}
	sock.Data = &member{Identity: id, addr: hs.Address}
	return nil
}

// history payload of chat:history.
type historyPayload struct {
	Messages []globalchat.Message `json:"messages"`
}

// sessionPayload of chat:session: who the server knows the client as.
type sessionPayload struct {
	UserID     string `json:"userId"`
	Username   string `json:"username"`
	GuestToken string `json:"guestToken,omitempty"`
}

// presencePayload of user:joined and user:left.
type presencePayload struct {
	UserID      string `json:"userId"`
	Username    string `json:"username"`
	OnlineCount int    `json:"onlineCount"`
}

// onConnect is the connection flow: join the room, send the history and
// who the client is, register presence, announce the user's first
// connection.
func (s *Service) onConnect(sock *socketio.Socket) {
	m := sock.Data.(*member)
	u := m.User
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()

	sock.On(EventMessage, s.onMessage)
	sock.On(EventTyping, s.onTyping)
	stop := s.endAtExpiry(sock, m.Expires)
	sock.OnDisconnect(func(reason socketio.Reason) {
		stop()
		s.onDisconnect(sock, u, reason)
	})
	// A recovered socket is back in the room and got what it missed
	// replayed; others join and get history with the offset of the last
	// message delivered before they joined, so that even a client cut
	// before its first message recovers. History goes before presence is
	// registered, to leave in the same write as the CONNECT reply rather
	// than one Redis round trip later.
	if sock.Recovered() {
		sock.Join(globalchat.Room)
	} else {
		sock.JoinAndGreet([]string{globalchat.Room}, EventHistory, func() ([]any, string) {
			return []any{s.newcomerHistory(ctx)}, offset(s.Delivered())
		})
	}
	sock.Emit(EventSession, sessionPayload{UserID: u.ID, Username: u.Name, GuestToken: m.GuestToken})
	m.GuestToken = "" // handed over: the socket need not keep it
	if s.departures.back(sock.ID()) {
		s.metrics.returns.Inc()
	}
	first, count, err := s.cfg.Presence.Add(ctx, globalchat.Conn{SocketID: sock.ID(), User: u})
	s.health.report("presence", err)
	s.log.Info("chat: connected", "user", u.ID, "socket", sock.ID(), "transport", sock.Transport(), "recovered", sock.Recovered())
	if err == nil && first {
		s.announce.joined(u, count)
	}
}

// endAtExpiry closes the connection of a socket whose token expires, once
// past the leeway, so that a reconnect with the same token is refused
// ("token expired"). It closes the transport rather than disconnect the
// socket: the official client then reconnects by itself, asking its auth
// callback for a fresh token, and recovers what it missed. It returns
// what stops the timer.
func (s *Service) endAtExpiry(sock *socketio.Socket, exp time.Time) (stop func()) {
	if exp.IsZero() {
		return func() {}
	}
	t := time.AfterFunc(exp.Add(jwtLeeway+time.Second).Sub(s.cfg.Now()), func() {
		s.metrics.expired.Inc()
		sock.CloseConnection()
	})
	return func() { t.Stop() }
}

// newcomerHistory returns the encoded chat:history of a new connection;
// when the history cannot be read, an empty one (the client can fetch it
// later over HTTP).
func (s *Service) newcomerHistory(ctx context.Context) json.RawMessage {
	raw, err := s.histCache.get(ctx, func(ctx context.Context) (json.RawMessage, error) {
		msgs, err := s.history(ctx, 0, HistorySize)
		if err != nil {
			return nil, err
		}
		if msgs == nil {
			msgs = []globalchat.Message{}
		}
		return json.Marshal(historyPayload{Messages: msgs})
	})
	if err != nil {
		s.log.Warn("chat: history unavailable", "err", err)
		return json.RawMessage(`{"messages":[]}`)
	}
	return raw
}

// onDisconnect is the disconnect flow: forget the connection and announce
// the user's last one; at once when the client meant to leave, else once
// the leave grace has passed without it coming back.
func (s *Service) onDisconnect(sock *socketio.Socket, u globalchat.User, reason socketio.Reason) {
	s.log.Info("chat: disconnected", "user", u.ID, "socket", sock.ID(), "reason", string(reason))
	id := sock.ID()
	if !reason.Recoverable() {
		s.leave(id)
		return
	}
	s.departures.after(id, func() { s.leave(id) })
}

// leave removes a connection from presence and announces the user's last
// one; a removal that fails is tried again until it is done. A socket of
// that id connected here again (a recovery that raced the disconnect) is
// not removed.
func (s *Service) leave(socketID string) {
	if s.nsp.Connected(socketID) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	d, err := s.cfg.Presence.Remove(ctx, socketID)
	s.health.report("presence", err)
	if err != nil {
		s.departures.retry(socketID, func() { s.leave(socketID) })
		return
	}
	if d.Known && d.Last {
		s.announce.left(d.User, d.Count)
	}
}

// offset is a message's recovery offset: its seq.
func offset(seq int64) string { return strconv.FormatInt(seq, 10) }
