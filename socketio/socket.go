package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/globalchat/globalchat/internal/randid"
	"github.com/globalchat/globalchat/socketio/engineio"
)

// Reason says why a socket disconnected: the transport's reasons
// (engineio.Reason values such as "transport close", "ping timeout",
// "slow client") or one of these.
type Reason string

// Disconnect reasons of the socket layer.
const (
	ReasonServerDisconnect Reason = "server namespace disconnect"
	ReasonClientDisconnect Reason = "client namespace disconnect"
)

// recoverable lists the reasons after which a session is kept for
// connection state recovery: the client did not mean to leave.
var recoverable = map[Reason]bool{
	Reason(engineio.ReasonTransportClose): true, Reason(engineio.ReasonTransportError): true,
	Reason(engineio.ReasonPingTimeout): true, Reason(engineio.ReasonForcedClose): true,
	Reason(engineio.ReasonServerShutdown): true, Reason(engineio.ReasonSlowClient): true,
}

// Recoverable reports whether the client did not mean to leave (a lost
// transport, a ping timeout, a server shutdown...): its session is kept
// for recovery, and it is expected back.
func (r Reason) Recoverable() bool { return recoverable[r] }

// Handshake is what a socket's connection carried.
type Handshake struct {
	Auth       json.RawMessage // the CONNECT payload; nil when absent
	Header     http.Header
	Query      url.Values
	RemoteAddr string
	// Address is the client's IP address: the peer's, or the one a
	// trusted proxy named (engineio.Limits.TrustedProxies).
	Address string
	Time    time.Time
}

// Event is an event received from a client. Args are its JSON arguments,
// in which binary arguments are placeholders for Attachments (Values
// puts them back).
type Event struct {
	Name        string
	Args        []json.RawMessage
	Attachments [][]byte
	ack         func(args ...any) error
}

// HasAck reports whether the client waits for an acknowledgement.
func (e *Event) HasAck() bool { return e.ack != nil }

// Ack answers the client's acknowledgement callback, once; it returns an
// error when none was asked for or it was already sent.
func (e *Event) Ack(args ...any) error {
	if e.ack == nil {
		return errors.New("socketio: no acknowledgement requested")
	}
	f := e.ack
	e.ack = nil
	return f(args...)
}

// Values decodes the arguments into Go values, []byte for binary ones.
func (e *Event) Values() ([]any, error) {
	out := make([]any, len(e.Args))
	for i, raw := range e.Args {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		v, err := insertBinary(v, e.Attachments)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// EventHandler handles an event. Handlers of one socket run one at a time,
// in the order the events arrived, off the connection's read loop: one
// may wait (for a database, an ack of its own) while the connection goes
// on being read, heartbeats included.
type EventHandler func(s *Socket, e *Event)

// ErrDisconnected is returned by EmitWithAck when the socket goes first.
var ErrDisconnected = errors.New("socketio: socket disconnected")

// Socket is a client's connection to one namespace.
type Socket struct {
	nsp       *Namespace
	client    *client
	id, pid   string
	auth      json.RawMessage // the CONNECT payload
	recovered bool

	// While a recovering socket replays, broadcasts to it wait in held.
	// After, until a newer one arrives, replayed holds the offsets the
	// replay had (checking), for a broadcast still on its way through the
	// room when the replay read it must not arrive twice.
	holding  atomic.Bool
	checking atomic.Bool
	holdMu   sync.Mutex
	held     []Broadcast
	replayed map[string]bool

	// Data belongs to the application: set it in a middleware or the
	// connection handler.
	Data any

	mu           sync.Mutex
	handlers     []namedHandler // a few at most: a scan beats a map's memory
	onDisconnect []func(Reason)
	rooms        []string
	acks         map[int64]chan *Event
	nextAck      int64
	closed       bool
}

func newSocket(n *Namespace, c *client, auth []byte) *Socket {
	return &Socket{nsp: n, client: c, id: randid.New(), auth: auth}
}

// ID returns the socket's public id (the same after a recovery).
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake returns what the connection carried.
func (s *Socket) Handshake() Handshake {
	info := s.client.conn.Request()
	return Handshake{Auth: s.auth, Header: info.Header, Query: info.Query, RemoteAddr: info.RemoteAddr, Address: info.ClientAddr, Time: info.Time}
}

// Recovered reports whether this socket is a recovered session, which got
// its id, rooms and missed packets back.
func (s *Socket) Recovered() bool { return s.recovered }

// Transport returns "polling" or "websocket".
func (s *Socket) Transport() string { return s.client.conn.Transport() }

// On sets the handler of an event.
func (s *Socket) On(event string, h EventHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.handlers {
		if s.handlers[i].event == event {
			s.handlers[i].h = h
			return
		}
	}
	s.handlers = append(s.handlers, namedHandler{event, h})
}

type namedHandler struct {
	event string
	h     EventHandler
}

// handler returns the handler of an event, nil when there is none.
func (s *Socket) handler(event string) EventHandler {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, nh := range s.handlers {
		if nh.event == event {
			return nh.h
		}
	}
	return nil
}

// OnDisconnect adds a function called once when the socket disconnects,
// after it left its rooms.
func (s *Socket) OnDisconnect(f func(Reason)) {
	s.mu.Lock()
	s.onDisconnect = append(s.onDisconnect, f)
	s.mu.Unlock()
}

// Join adds the socket to rooms. A disconnected socket joins nothing.
func (s *Socket) Join(rooms ...string) {
	s.mu.Lock()
	// The namespace is updated under s.mu so that a concurrent close,
	// which leaves the rooms it finds in s.rooms, cannot miss one.
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for _, r := range rooms {
		if !slices.Contains(s.rooms, r) {
			s.rooms = append(s.rooms, r)
		}
	}
	s.nsp.join(s, rooms)
}

// Leave removes the socket from a room.
func (s *Socket) Leave(room string) {
	s.mu.Lock()
	s.rooms = slices.DeleteFunc(s.rooms, func(r string) bool { return r == room })
	s.mu.Unlock()
	s.nsp.leave(s, room)
}

// Rooms returns the rooms the socket is in, its own id room included.
func (s *Socket) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rooms)
}

// Emit sends an event to this socket. []byte arguments travel as binary.
func (s *Socket) Emit(event string, args ...any) error {
	pkt, att, err := encodeEvent(s.nsp.name, event, -1, args)
	if err != nil {
		return err
	}
	return s.client.send(pkt, att...)
}

// EmitWithAck sends an event and waits for the client's acknowledgement,
// returning its arguments. Do not call it from an event handler (or
// OnConnection) without a goroutine of its own: the acknowledgement is
// read by the goroutine that runs the handlers of the connection, so the
// wait would last until ctx ends.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	ch := make(chan *Event, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrDisconnected
	}
	id := s.nextAck
	s.nextAck++
	if s.acks == nil {
		s.acks = make(map[int64]chan *Event)
	}
	s.acks[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.acks, id)
		s.mu.Unlock()
	}()
	pkt, att, err := encodeEvent(s.nsp.name, event, id, args)
	if err != nil {
		return nil, err
	}
	if err := s.client.send(pkt, att...); err != nil {
		return nil, err
	}
	select {
	case e := <-ch:
		if e == nil {
			return nil, ErrDisconnected
		}
		return e.Args, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Disconnect ends the socket from the server's side: the client is told
// ("io server disconnect") and does not reconnect by itself. The
// connection closes when it has no namespace left.
func (s *Socket) Disconnect() {
	s.client.send(appendPacket(nil, typeDisconnect, s.nsp.name, 0, -1, nil))
	s.close(ReasonServerDisconnect)
	s.client.closeIfEmpty()
}

// CloseConnection closes the socket's whole connection (every namespace
// on it) as a lost transport would: the client sees "transport close",
// reconnects by itself, authenticating anew, and recovers its session.
// What is queued still leaves first.
func (s *Socket) CloseConnection() {
	s.client.conn.Close(engineio.ReasonForcedClose)
}

// deliver sends a broadcast to the socket, or holds it during a replay,
// or drops it when the replay already had it.
func (s *Socket) deliver(b Broadcast) {
	if (s.holding.Load() || s.checking.Load()) && !s.admit(&b) {
		return
	}
	s.client.broadcast(b)
}

// admit holds b during a replay (false), and after it tells whether b is
// new to the socket (whether the replay had it: its replayKey). A room's
// broadcasts reach its sockets in order, so the first one with an offset
// the replay did not have ends the check.
func (s *Socket) admit(b *Broadcast) bool {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	switch {
	case s.holding.Load():
		s.held = append(s.held, *b)
		return false
	case s.checking.Load():
		if key := b.replayKey(); key != "" && s.replayed[key] {
			return false
		}
		if b.recoveryOffset() != "" {
			s.replayed = nil
			s.checking.Store(false)
		}
	}
	return true
}

func (s *Socket) hold() { s.holding.Store(true) }

// release sends the held broadcasts that the replay did not already
// contain, and stops holding. Until a broadcast newer than the replay
// arrives, the replayed ones are still dropped: the replay may have read
// a message whose broadcast was still walking the room towards this
// socket, to reach it after the release.
func (s *Socket) release(replayed []Broadcast) {
	if !s.holding.Load() {
		return
	}
	seen := make(map[string]bool, len(replayed))
	for i := range replayed {
		seen[replayed[i].replayKey()] = true
	}
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	newer := false
	for _, b := range s.held {
		if key := b.replayKey(); key == "" || !seen[key] {
			s.client.send(b.Packet, b.Attachments...)
			newer = newer || b.recoveryOffset() != ""
		}
	}
	s.held = nil
	if len(replayed) > 0 && !newer {
		s.replayed = seen
		s.checking.Store(true)
	}
	s.holding.Store(false)
}

// JoinAndGreet joins rooms and sends the socket one event (a greeting,
// such as a chat's history) whose last argument is a recovery offset, so
// that a client whose connection is cut before any broadcast reached it
// can still recover what it missed. build, called after the join, returns
// the event's arguments and the offset of the newest broadcast that can
// no longer reach the socket live. Broadcasts that come meanwhile are
// held and sent first, and the greeting carries the offset of the last of
// them when one had one: the client's offset never moves back. Without
// recovery, or with an empty offset, the event carries none.
func (s *Socket) JoinAndGreet(rooms []string, event string, build func() (args []any, offset string)) error {
	s.hold()
	s.Join(rooms...)
	args, off := build()
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	for _, b := range s.held {
		s.client.send(b.Packet, b.Attachments...)
		if o := b.recoveryOffset(); o != "" {
			off = o
		}
	}
	if off != "" && s.nsp.srv.opts.Recovery != nil {
		args = append(args[:len(args):len(args)], off)
	}
	// Sent before holding stops: a broadcast that comes now waits for the
	// lock and leaves after the greeting.
	err := s.Emit(event, args...)
	s.held = nil
	s.holding.Store(false)
	return err
}

// drop forgets the held broadcasts of a recovery that failed: the socket
// starts afresh.
func (s *Socket) drop() {
	s.holdMu.Lock()
	s.held = nil
	s.holding.Store(false)
	s.holdMu.Unlock()
}

// encodeEvent encodes an EVENT (or BINARY_EVENT) packet.
func encodeEvent(nsp, event string, id int64, args []any) ([]byte, [][]byte, error) {
	data, att, err := encodeArgs(make([]byte, 0, 64), event, args)
	if err != nil {
		return nil, nil, err
	}
	typ := typeEvent
	if len(att) > 0 {
		typ = typeBinaryEvent
	}
	return appendPacket(make([]byte, 0, len(data)+len(nsp)+8), typ, nsp, len(att), id, data), att, nil
}

// onEvent runs the handler of an EVENT, its array decoded by decodePacket.
func (s *Socket) onEvent(p packet, attachments [][]byte) {
	e := &Event{Name: p.name, Args: p.args, Attachments: attachments}
	if p.id >= 0 {
		e.ack = s.acker(p.id)
	}
	if h := s.handler(e.Name); h != nil {
		h(s, e)
	}
}

// acker returns the function that answers the client's ack id.
func (s *Socket) acker(id int64) func(args ...any) error {
	return func(args ...any) error {
		data, att, err := encodeArgs(make([]byte, 0, 64), "", args)
		if err != nil {
			return err
		}
		typ := typeAck
		if len(att) > 0 {
			typ = typeBinaryAck
		}
		return s.client.send(appendPacket(nil, typ, s.nsp.name, len(att), id, data), att...)
	}
}

func (s *Socket) onAck(p packet, attachments [][]byte) {
	s.mu.Lock()
	ch := s.acks[p.id]
	delete(s.acks, p.id)
	s.mu.Unlock()
	if ch != nil {
		ch <- &Event{Args: p.args, Attachments: attachments}
	}
}

// close takes the socket out of its namespace, keeps its session for
// recovery when the client did not mean to leave, and runs the disconnect
// handlers.
func (s *Socket) close(reason Reason) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	// Taken, not shared: a later Leave must not edit what is being left.
	rooms := s.rooms
	s.rooms = nil
	handlers := s.onDisconnect
	for id, ch := range s.acks {
		close(ch)
		delete(s.acks, id)
	}
	s.mu.Unlock()

	s.nsp.remove(s, rooms)
	s.client.remove(s)
	s.nsp.srv.metrics.sockets.Dec()
	s.nsp.srv.metrics.disconnects.WithLabelValues(string(reason)).Inc()
	if reason.Recoverable() {
		s.saveSession(rooms, s.nsp.srv.opts.Recovery.maxDisconnection())
	} else {
		s.forgetSession()
	}
	for _, f := range handlers {
		f(reason)
	}
}

// saveSession keeps the socket's session for ttl.
func (s *Socket) saveSession(rooms []string, ttl time.Duration) {
	r := s.nsp.srv.opts.Recovery
	if r == nil || s.pid == "" {
		return
	}
	kept := slices.DeleteFunc(slices.Clone(rooms), func(room string) bool { return room == s.id })
	st := SessionState{PID: s.pid, SID: s.id, Namespace: s.nsp.name, Rooms: kept, Lost: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), recoveryTimeout)
	defer cancel()
	if err := r.Sessions.Save(ctx, st, ttl); err != nil {
		s.nsp.srv.log.Warn("socketio: session not kept for recovery", "sid", s.id, "err", err)
	}
}

// forgetSession drops a session saved at connect when the client left on
// purpose.
func (s *Socket) forgetSession() {
	r := s.nsp.srv.opts.Recovery
	if r == nil || r.SaveOnConnect == nil || !r.SaveOnConnect() || s.pid == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), recoveryTimeout)
	defer cancel()
	r.Sessions.Take(ctx, s.pid)
}
