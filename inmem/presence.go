package inmem

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/globalchat/globalchat"
)

var _ globalchat.Presence = (*Presence)(nil)

// Presence tracks the users online on a single instance.
type Presence struct {
	mu      sync.Mutex
	sockets map[string]globalchat.Conn     // socket id -> connection
	users   map[string]map[string]struct{} // user id -> its socket ids
	names   map[string]string              // user id -> name of its latest connection
}

// NewPresence returns an empty Presence.
func NewPresence() *Presence {
	return &Presence{
		sockets: make(map[string]globalchat.Conn),
		users:   make(map[string]map[string]struct{}),
		names:   make(map[string]string),
	}
}

// Add implements globalchat.Presence. Adding a socket again only updates
// its user's name.
func (p *Presence) Add(ctx context.Context, c globalchat.Conn) (bool, int, error) {
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.sockets[c.SocketID]; ok && old.User.ID != c.User.ID {
		p.removeLocked(c.SocketID) // a reused socket id moves to its new user
	}
	socks := p.users[c.User.ID]
	if socks == nil {
		socks = make(map[string]struct{})
		p.users[c.User.ID] = socks
	}
	_, known := socks[c.SocketID]
	socks[c.SocketID] = struct{}{}
	p.sockets[c.SocketID] = c
	p.names[c.User.ID] = c.User.Name
	first := !known && len(socks) == 1
	return first, len(p.users), nil
}

// Remove implements globalchat.Presence.
func (p *Presence) Remove(ctx context.Context, socketID string) (globalchat.Departure, error) {
	if err := ctx.Err(); err != nil {
		return globalchat.Departure{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	u, last, ok := p.removeLocked(socketID)
	return globalchat.Departure{User: u, Known: ok, Last: last, Count: len(p.users)}, nil
}

func (p *Presence) removeLocked(socketID string) (globalchat.User, bool, bool) {
	c, ok := p.sockets[socketID]
	if !ok {
		return globalchat.User{}, false, false
	}
	delete(p.sockets, socketID)
	u := globalchat.User{ID: c.User.ID, Name: p.names[c.User.ID]}
	socks := p.users[c.User.ID]
	delete(socks, socketID)
	if len(socks) > 0 {
		return u, false, true
	}
	delete(p.users, c.User.ID)
	delete(p.names, c.User.ID)
	return u, true, true
}

// Online implements globalchat.Presence: users sorted by name, then id.
func (p *Presence) Online(ctx context.Context, limit int) (int, []globalchat.User, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	p.mu.Lock()
	if limit <= 0 { // the count alone: asked every second by the accounting
		n := len(p.users)
		p.mu.Unlock()
		return n, nil, nil
	}
	users := make([]globalchat.User, 0, len(p.users))
	for id := range p.users {
		users = append(users, globalchat.User{ID: id, Name: p.names[id]})
	}
	p.mu.Unlock()
	slices.SortFunc(users, func(a, b globalchat.User) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return len(users), users[:min(len(users), max(limit, 0))], nil
}

// Conns returns every registered connection: what moves to a shared
// presence when the server switches to Redis.
func (p *Presence) Conns() []globalchat.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]globalchat.Conn, 0, len(p.sockets))
	for _, c := range p.sockets {
		out = append(out, c)
	}
	return out
}
