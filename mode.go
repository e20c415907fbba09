package globalchat

import (
	"log/slog"
	"sync"
)

// Mode is what an instance runs on: both shared dependencies, or without
// one of them (see docs/operations.md for what each mode guarantees).
type Mode uint8

// The modes of an instance.
const (
	// ModeNormal: Redis orders and carries messages; the store keeps them.
	ModeNormal Mode = iota
	// ModeRedisAway: the store orders messages and instances exchange
	// them through it; presence and rate limits are per instance.
	ModeRedisAway
	// ModeStoreAway: messages are acknowledged once in the Redis spool,
	// which the store takes when it answers again.
	ModeStoreAway
	// ModeBothAway: nothing can hold a message; sends are refused.
	ModeBothAway
)

// Modes lists every mode, for metrics.
var Modes = []Mode{ModeNormal, ModeRedisAway, ModeStoreAway, ModeBothAway}

func (m Mode) String() string {
	switch m {
	case ModeNormal:
		return "normal"
	case ModeRedisAway:
		return "redis away"
	case ModeStoreAway:
		return "store away"
	default:
		return "redis and store away"
	}
}

// CanAccept says whether messages can be acknowledged in this mode.
func (m Mode) CanAccept() bool { return m != ModeBothAway }

// State is an instance's mode, set by the components that see a
// dependency fail or come back, and read by the ones that act on it
// (never copied at start). Each transition is logged once.
type State struct {
	log      *slog.Logger
	onChange func(from, to Mode)

	mu                   sync.Mutex
	redisAway, storeAway bool
}

// NewState returns a State in ModeNormal. onChange, if not nil, is called
// after each transition (outside the lock).
func NewState(log *slog.Logger, onChange func(from, to Mode)) *State {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &State{log: log, onChange: onChange}
}

// Mode returns the current mode.
func (s *State) Mode() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modeLocked()
}

func (s *State) modeLocked() Mode {
	switch {
	case s.redisAway && s.storeAway:
		return ModeBothAway
	case s.redisAway:
		return ModeRedisAway
	case s.storeAway:
		return ModeStoreAway
	}
	return ModeNormal
}

// StoreAway says whether the store is known not to answer.
func (s *State) StoreAway() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.storeAway
}

// RedisAway says whether Redis is known not to answer.
func (s *State) RedisAway() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.redisAway
}

// SetRedisAway records whether Redis answers; cause says why it is away.
func (s *State) SetRedisAway(away bool, cause error) { s.set(&s.redisAway, away, "redis", cause) }

// SetStoreAway records whether the store answers; cause says why it is away.
func (s *State) SetStoreAway(away bool, cause error) { s.set(&s.storeAway, away, "store", cause) }

func (s *State) set(flag *bool, away bool, dep string, cause error) {
	s.mu.Lock()
	if *flag == away {
		s.mu.Unlock()
		return
	}
	from := s.modeLocked()
	*flag = away
	to := s.modeLocked()
	s.mu.Unlock()
	if away {
		s.log.Warn("mode: "+dep+" away", "from", from.String(), "to", to.String(), "cause", errString(cause))
	} else {
		s.log.Info("mode: "+dep+" back", "from", from.String(), "to", to.String())
	}
	if s.onChange != nil {
		s.onChange(from, to)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
