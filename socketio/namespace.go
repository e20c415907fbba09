package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"

	"github.com/globalchat/globalchat/internal/randid"
	"github.com/globalchat/globalchat/socketio/engineio"
)

// Middleware decides whether a socket may connect, from its handshake
// (Socket.Handshake, with the CONNECT auth payload). A non-nil error
// refuses it with a CONNECT_ERROR; use *ConnectError to choose the
// message and data the client sees, any other error shows its text.
// It may set Socket.Data.
type Middleware func(s *Socket) error

// ConnectError refuses a connection with a message and optional data.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// Namespace is a communication channel multiplexed over the connections;
// it holds its sockets and rooms.
type Namespace struct {
	srv  *Server
	name string

	mu          sync.RWMutex
	middlewares []Middleware
	onConnect   func(*Socket)
	sockets     map[string]*Socket
	rooms       map[string]*members
}

func newNamespace(s *Server, name string) *Namespace {
	return &Namespace{srv: s, name: name, sockets: make(map[string]*Socket), rooms: make(map[string]*members)}
}

// Name returns the namespace's name, e.g. "/".
func (n *Namespace) Name() string { return n.name }

// Use adds a middleware; they run in order for every connection.
func (n *Namespace) Use(m Middleware) {
	n.mu.Lock()
	n.middlewares = append(n.middlewares, m)
	n.mu.Unlock()
}

// OnConnection sets the handler of new sockets. It runs before the
// socket's first event is dispatched, so it is where On is called.
func (n *Namespace) OnConnection(f func(*Socket)) {
	n.mu.Lock()
	n.onConnect = f
	n.mu.Unlock()
}

// Len returns the number of sockets connected on this instance.
func (n *Namespace) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

// Connected reports whether a socket with this id is connected on this
// instance.
func (n *Namespace) Connected(id string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id] != nil
}

// connect runs a CONNECT: the session to recover is claimed, the
// middlewares run, then the socket joins its rooms, gets the reply, the
// missed packets, and the connection handler runs.
func (n *Namespace) connect(c *client, auth []byte) {
	s := newSocket(n, c, auth)
	claim, restored := n.claim(s, auth)
	n.mu.RLock()
	mws, onConnect := n.middlewares, n.onConnect
	n.mu.RUnlock()
	for _, m := range mws {
		if err := m(s); err != nil {
			var ce *ConnectError
			if !errors.As(err, &ce) {
				ce = &ConnectError{Message: err.Error()}
			}
			c.send(connectError(n.name, ce))
			return
		}
	}
	if !c.add(s) {
		return
	}
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
	n.srv.metrics.sockets.Inc()

	var missed []Broadcast
	if restored != nil {
		missed = n.replay(s, restored, claim)
	} else {
		s.Join(s.id)
	}
	reply := struct {
		SID string `json:"sid"`
		PID string `json:"pid,omitempty"`
	}{s.id, s.pid}
	data, _ := json.Marshal(reply)
	// The reply may wait (up to the write delay) for what the connection
	// handler sends at once, typically a greeting: one write for both.
	c.queue(engineio.Batched, appendPacket(nil, typeConnect, n.name, 0, -1, data), nil)
	for _, b := range missed {
		c.send(b.Packet, b.Attachments...)
	}
	s.release(missed)
	if onConnect != nil {
		onConnect(s)
	}
	if r := n.srv.opts.Recovery; r != nil && r.SaveOnConnect != nil && r.SaveOnConnect() {
		s.saveSession(s.Rooms(), r.ConnectedTTL)
	}
}

// claim takes the lost session the client names in its auth payload, if
// the store still has it; the socket gets its id back.
func (n *Namespace) claim(s *Socket, auth []byte) (offset string, st *SessionState) {
	r := n.srv.opts.Recovery
	if r == nil {
		return "", nil
	}
	s.pid = randid.New()
	var claim struct {
		PID    string `json:"pid"`
		Offset string `json:"offset"`
	}
	if len(auth) == 0 || json.Unmarshal(auth, &claim) != nil || claim.PID == "" || claim.Offset == "" {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), recoveryTimeout)
	defer cancel()
	got, err := r.Sessions.Take(ctx, claim.PID)
	if err != nil || got.Namespace != n.name {
		n.srv.metrics.recoveries.WithLabelValues("failed").Inc()
		return "", nil
	}
	s.id = got.SID
	return claim.Offset, &got
}

// replay joins the socket to its restored rooms while holding what is
// broadcast to it, then asks for what it missed. Joining first means no
// broadcast falls between the two; holding lets release drop the ones the
// replay already has, so each arrives once, in order. When the missed
// packets are unknown the socket starts afresh, in no room but its own.
func (n *Namespace) replay(s *Socket, st *SessionState, offset string) []Broadcast {
	s.hold()
	s.Join(s.id)
	s.Join(st.Rooms...)
	ctx, cancel := context.WithTimeout(context.Background(), recoveryTimeout)
	defer cancel()
	missed, ok, err := n.srv.opts.Recovery.Replayer.Replay(ctx, n.name, append(st.Rooms, st.SID), offset)
	if err != nil || !ok {
		n.srv.metrics.recoveries.WithLabelValues("failed").Inc()
		for _, r := range st.Rooms {
			s.Leave(r)
		}
		s.drop()
		return nil
	}
	s.pid, s.recovered = st.PID, true
	n.srv.metrics.recoveries.WithLabelValues("ok").Inc()
	return missed
}

// remove takes a closing socket out of the namespace and its rooms.
func (n *Namespace) remove(s *Socket, rooms []string) {
	n.mu.Lock()
	if n.sockets[s.id] == s {
		delete(n.sockets, s.id)
	}
	for _, r := range rooms {
		n.leaveLocked(s, r)
	}
	n.mu.Unlock()
}

func (n *Namespace) join(s *Socket, rooms []string) {
	n.mu.Lock()
	for _, r := range rooms {
		m := n.rooms[r]
		if m == nil {
			m = &members{}
			n.rooms[r] = m
		}
		m.add(s)
	}
	n.mu.Unlock()
}

func (n *Namespace) leave(s *Socket, room string) {
	n.mu.Lock()
	n.leaveLocked(s, room)
	n.mu.Unlock()
}

func (n *Namespace) leaveLocked(s *Socket, room string) {
	if m := n.rooms[room]; m != nil {
		m.remove(s)
		if m.len() == 0 {
			delete(n.rooms, room)
		}
	}
}

// RoomSize returns how many local sockets are in room.
func (n *Namespace) RoomSize(room string) int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if m := n.rooms[room]; m != nil {
		return m.len()
	}
	return 0
}

// deliver sends an encoded broadcast to the local sockets it targets, in
// the order they joined its rooms. The targets are copied under the lock
// and sent to after it: a broadcast to thousands takes a while, and
// sockets joining meanwhile must not wait for it. A socket that joins
// after the copy misses this broadcast, as it would have joining a moment
// later; recovery's hold-and-replay covers that gap the same way.
func (n *Namespace) deliver(b Broadcast) {
	b.lazy = n.srv.isLazy(b.Packet)
	targets := n.targets(b)
	for _, s := range *targets {
		s.deliver(b)
	}
	clear(*targets) // the pool must not keep sockets alive
	*targets = (*targets)[:0]
	targetPool.Put(targets)
}

// targetPool holds the target lists of broadcasts, which can be long.
var targetPool = sync.Pool{New: func() any { return new([]*Socket) }}

// targets lists the sockets a broadcast goes to, each once.
func (n *Namespace) targets(b Broadcast) *[]*Socket {
	list := targetPool.Get().(*[]*Socket)
	n.mu.RLock()
	defer n.mu.RUnlock()
	switch {
	case len(b.Rooms) == 0:
		for _, s := range n.sockets {
			*list = append(*list, s)
		}
	case len(b.Rooms) == 1:
		if m := n.rooms[b.Rooms[0]]; m != nil {
			*list = m.appendTo(*list)
		}
	default:
		seen := make(map[*Socket]struct{})
		for _, r := range b.Rooms {
			if m := n.rooms[r]; m != nil {
				for _, s := range m.order {
					if _, dup := seen[s]; s != nil && !dup {
						seen[s] = struct{}{}
						*list = append(*list, s)
					}
				}
			}
		}
	}
	if len(b.Except) > 0 {
		*list = slices.DeleteFunc(*list, func(s *Socket) bool {
			for _, r := range b.Except {
				if m := n.rooms[r]; m != nil && m.has(s) {
					return true
				}
			}
			return false
		})
	}
	return list
}
