package bandwidth

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// Memory is the Store of an instance on its own (embedded mode): the
// realtime figures are its own, and each series keeps window/interval
// points at most.
type Memory struct {
	interval, window time.Duration

	mu       sync.Mutex
	realtime map[string]string
	series   map[string][]Point
}

var _ Store = (*Memory)(nil)

// NewMemory returns a Memory store with points of interval kept for
// window.
func NewMemory(interval, window time.Duration) *Memory {
	return &Memory{interval: interval, window: window, series: map[string][]Point{}}
}

// Flush implements Store.
func (m *Memory) Flush(_ context.Context, s Sample) error {
	rt := map[string]string{"instances": "1", "updated_at": strconv.FormatInt(s.At.UnixMilli(), 10)}
	for _, f := range s.Fields() {
		rt[f.Name] = strconv.FormatInt(f.Value, 10)
	}
	at := s.At.Truncate(m.interval)
	limit := int(m.window / m.interval)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.realtime = rt
	for name, p := range s.Points() {
		p.At = at
		pts := m.series[name]
		if n := len(pts); n > 0 && pts[n-1].At.Equal(at) {
			pts[n-1] = pts[n-1].merge(p)
			continue
		}
		pts = append(pts, p)
		if len(pts) > limit {
			pts = append(pts[:0], pts[len(pts)-limit:]...)
		}
		m.series[name] = pts
	}
	return nil
}

// Realtime implements Store.
func (m *Memory) Realtime(context.Context) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.realtime))
	for k, v := range m.realtime {
		out[k] = v
	}
	return out, nil
}

// Series implements Store.
func (m *Memory) Series(_ context.Context, series string, since time.Time) ([]Point, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Point
	for _, p := range m.series[series] {
		if !p.At.Before(since.Truncate(m.interval)) {
			out = append(out, p)
		}
	}
	return out, nil
}
