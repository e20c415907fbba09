package inmem

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/globalchat/globalchat"
)

var _ globalchat.Typing = (*Typing)(nil)

// Typing is who is typing on a single instance.
type Typing struct {
	mu    sync.Mutex
	until map[globalchat.User]time.Time // bounded by the users typing; expired ones go at each List
}

// NewTyping returns an empty Typing.
func NewTyping() *Typing { return &Typing{until: map[globalchat.User]time.Time{}} }

// Set implements globalchat.Typing.
func (t *Typing) Set(_ context.Context, u globalchat.User, until time.Time) error {
	t.mu.Lock()
	t.until[u] = until
	t.mu.Unlock()
	return nil
}

// Clear implements globalchat.Typing.
func (t *Typing) Clear(_ context.Context, u globalchat.User) error {
	t.mu.Lock()
	delete(t.until, u)
	t.mu.Unlock()
	return nil
}

// List implements globalchat.Typing.
func (t *Typing) List(_ context.Context, now time.Time, limit int) ([]globalchat.User, int, error) {
	t.mu.Lock()
	var users []globalchat.User
	for u, until := range t.until {
		if !now.Before(until) {
			delete(t.until, u)
			continue
		}
		users = append(users, u)
	}
	t.mu.Unlock()
	return inNameOrder(users, limit), len(users), nil
}

// inNameOrder sorts users by name (then id) and keeps the first limit.
func inNameOrder(users []globalchat.User, limit int) []globalchat.User {
	slices.SortFunc(users, func(a, b globalchat.User) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return users[:min(limit, len(users))]
}
