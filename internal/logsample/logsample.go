// Package logsample keeps logs about clients readable under a hostile or
// broken client: the first occurrence of an event for a key (usually a
// client address) is logged at once, the next ones within the interval are
// only counted, and the count goes out later in one summary line. One
// client retrying a refused handshake ten times a second thus costs one log
// line a minute, not six hundred, and a flood from many addresses costs at
// most MaxKeys lines an interval plus one overflow line per kind.
//
// Memory is bounded: at most MaxKeys (kind, key) pairs are tracked, an
// entry is forgotten once its interval has ended, and occurrences for new
// keys beyond the cap are counted together per kind.
//
// It knows nothing of the rest of the module and must not import any of its
// packages.
package logsample

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"time"
)

// Defaults used when Options leaves a field at zero.
const (
	DefaultInterval = time.Minute
	DefaultMaxKeys  = 10000
)

// OverflowKey is the key logged for occurrences counted together because
// MaxKeys keys were already tracked.
const OverflowKey = "(other keys)"

// Options configures a Sampler.
type Options struct {
	// Interval is how long after a logged line the same (kind, key) is only
	// counted (default one minute).
	Interval time.Duration
	// MaxKeys bounds the (kind, key) pairs tracked at once (default 10000).
	MaxKeys int
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time
}

// Sampler logs the first occurrence of each (kind, key) per interval and
// counts the rest. It is safe for concurrent use.
type Sampler struct {
	logger   *slog.Logger
	interval time.Duration
	maxKeys  int
	now      func() time.Time

	mu       sync.Mutex
	entries  map[id]*list.Element // of *entry
	order    *list.List           // oldest window start first
	overflow map[string]*entry    // per kind, keys beyond MaxKeys
}

type id struct{ kind, key string }

// entry is one (kind, key) in its current window: the line that opened it,
// to repeat in the summary, and how many occurrences were not logged.
type entry struct {
	id         id
	start      time.Time
	level      slog.Level
	msg        string
	attrs      []slog.Attr
	suppressed int
}

// New returns a Sampler that writes to logger.
func New(logger *slog.Logger, opts Options) *Sampler {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sampler{
		logger:   logger,
		interval: opts.Interval,
		maxKeys:  opts.MaxKeys,
		now:      opts.Now,
		entries:  make(map[id]*list.Element),
		order:    list.New(),
		overflow: make(map[string]*entry),
	}
}

// Log records one occurrence of kind for key (a client address, say). The
// first occurrence in an interval is logged with msg and attrs, plus
// "kind" and "key" attributes; later ones in the same interval are counted
// and reported by Flush, or by the next logged line of that key as a
// "suppressed" attribute.
func (s *Sampler) Log(ctx context.Context, level slog.Level, kind, key, msg string, attrs ...slog.Attr) {
	now := s.now()
	s.mu.Lock()
	due := s.expire(now)
	line, ok := s.observe(now, id{kind, key}, level, msg, attrs)
	s.mu.Unlock()
	s.write(ctx, due)
	if ok {
		s.write(ctx, []entry{line})
	}
}

// observe counts one occurrence and reports the line to log, if any. The
// caller holds mu and has expired old entries.
func (s *Sampler) observe(now time.Time, k id, level slog.Level, msg string, attrs []slog.Attr) (entry, bool) {
	if el, ok := s.entries[k]; ok {
		el.Value.(*entry).suppressed++
		return entry{}, false
	}
	if s.order.Len() >= s.maxKeys {
		return s.observeOverflow(now, k.kind, level, msg, attrs)
	}
	e := &entry{id: k, start: now, level: level, msg: msg, attrs: attrs}
	s.entries[k] = s.order.PushBack(e)
	return *e, true
}

// observeOverflow counts an occurrence for a key that found no room: the
// first one of the kind per interval is logged under OverflowKey.
func (s *Sampler) observeOverflow(now time.Time, kind string, level slog.Level, msg string, attrs []slog.Attr) (entry, bool) {
	if e, ok := s.overflow[kind]; ok {
		e.suppressed++
		return entry{}, false
	}
	e := &entry{id: id{kind, OverflowKey}, start: now, level: level, msg: msg, attrs: attrs}
	s.overflow[kind] = e
	return *e, true
}

// expire forgets the entries whose interval has ended and returns those
// with a count to report. The caller holds mu. Entries are in order of
// their window's start, so only the expired ones are visited.
func (s *Sampler) expire(now time.Time) []entry {
	var due []entry
	for el := s.order.Front(); el != nil; el = s.order.Front() {
		e := el.Value.(*entry)
		if now.Sub(e.start) < s.interval {
			break
		}
		s.order.Remove(el)
		delete(s.entries, e.id)
		if e.suppressed > 0 {
			due = append(due, *e)
		}
	}
	for kind, e := range s.overflow {
		if now.Sub(e.start) < s.interval {
			continue
		}
		delete(s.overflow, kind)
		if e.suppressed > 0 {
			due = append(due, *e)
		}
	}
	return due
}

// Flush writes the summary line of every entry whose interval has ended
// with occurrences not logged, and forgets the expired entries.
func (s *Sampler) Flush(ctx context.Context) {
	s.mu.Lock()
	due := s.expire(s.now())
	s.mu.Unlock()
	s.write(ctx, due)
}

// Run calls Flush every interval until ctx ends, so that counts are
// reported even when a key falls silent.
func (s *Sampler) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Flush(ctx)
		}
	}
}

// Tracked reports how many (kind, key) pairs are held, for tests and
// gauges.
func (s *Sampler) Tracked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len() + len(s.overflow)
}

// write logs lines outside the lock: a slow handler must not hold back
// other callers' counting.
func (s *Sampler) write(ctx context.Context, lines []entry) {
	for _, e := range lines {
		attrs := make([]slog.Attr, 0, len(e.attrs)+4)
		attrs = append(attrs, slog.String("kind", e.id.kind), slog.String("key", e.id.key))
		attrs = append(attrs, e.attrs...)
		if e.suppressed > 0 {
			attrs = append(attrs, slog.Int("suppressed", e.suppressed), slog.Duration("interval", s.interval))
		}
		s.logger.LogAttrs(ctx, e.level, e.msg, attrs...)
	}
}
