package chat

import (
	"log/slog"
	"sync"
)

// health logs each dependency's status changes, once per change rather
// than once per failing call.
type health struct {
	log  *slog.Logger
	mu   sync.Mutex
	down map[string]bool
}

func newHealth(log *slog.Logger) *health { return &health{log: log, down: make(map[string]bool)} }

func (h *health) report(dep string, err error) {
	h.mu.Lock()
	was := h.down[dep]
	h.down[dep] = err != nil
	h.mu.Unlock()
	switch {
	case err != nil && !was:
		h.log.Error("chat: dependency failing", "dependency", dep, "err", err)
	case err == nil && was:
		h.log.Info("chat: dependency recovered", "dependency", dep)
	}
}
