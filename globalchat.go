// Package globalchat holds the domain of the global chat: its types and the
// interfaces that the storage, presence, rate-limit and messaging packages
// implement. It imports no other package of this module, and none of the
// drivers: cmd/globalchat is the only place that knows every implementation.
package globalchat

import (
	"context"
	"time"
)

// Room is the one room every user joins.
const Room = "global-chat-room"

// Message is one chat message. Seq is its place in the room's single order:
// strictly increasing, assigned by the Bus, the same on every instance.
type Message struct {
	ID          string    `json:"id"`
	Seq         int64     `json:"seq"`
	UserID      string    `json:"userId"`
	Username    string    `json:"username"`
	Content     string    `json:"content"`
	CreatedAt   time.Time `json:"createdAt"`
	ClientMsgID string    `json:"clientMsgId,omitempty"`

	// Spooled is set by a Bus that holds the message durably until the
	// store confirms it (the Redis spool): the message is then safe to
	// acknowledge even if the store does not answer now. Never sent.
	Spooled bool `json:"-"`
	// Late is set by the Bus for its handler on a message that arrives
	// below the highest seq this instance already delivered. It goes out
	// without a recovery offset: its seq would move a client's offset
	// back, and the highest seq would make a recovering socket take it for
	// the message of that seq, already replayed. Never sent.
	Late bool `json:"-"`
}

// User is who is behind a connection: a guest or the subject of a JWT.
type User struct {
	ID   string `json:"userId"`
	Name string `json:"username"`
}

// Conn is one open Socket.IO connection of a user on some instance.
type Conn struct {
	SocketID string
	User     User
}

// MessageStore keeps messages durably (SQLite or MySQL).
//
// Errors: methods return an error wrapping ErrUnavailable when the database
// cannot be reached; Save is idempotent on Message.ID, so a message saved
// twice is stored once; saving a message whose Seq, or whose (UserID,
// ClientMsgID), is held by another message fails with an error wrapping
// ErrConflict, never silently.
type MessageStore interface {
	// Save stores the messages and returns once they are committed.
	// Concurrent calls may be committed together in one transaction.
	Save(ctx context.Context, msgs ...Message) error
	// Before returns up to limit messages with Seq < before (before <= 0
	// means from the newest), oldest first.
	Before(ctx context.Context, before int64, limit int) ([]Message, error)
	// After returns up to limit messages with Seq > after, oldest first.
	After(ctx context.Context, after int64, limit int) ([]Message, error)
	// LastSeq returns the highest stored Seq, 0 when empty.
	LastSeq(ctx context.Context) (int64, error)
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close flushes what is pending and releases the database.
	Close() error
}

// Sequencer is a MessageStore that can also be the room's sequencer of
// record, while the Bus's own (Redis) cannot be reached: instances then
// number and exchange messages through the shared database.
//
// Errors: ErrUnavailable when the database cannot be reached.
type Sequencer interface {
	// Fence makes the store the sequencer for this instance: it raises
	// the counter to at least next and above every stored seq, and
	// returns the next seq it will hand out and the current epoch, under
	// which this instance appends.
	Fence(ctx context.Context, next int64) (seq, epoch int64, err error)
	// Append gives each of msgs, in order, the next seq of the store's
	// counter and stores them, in one transaction that serializes with
	// every other Append, so appends commit in seq order. A message whose
	// ID, or (UserID, ClientMsgID), is stored already (or earlier in msgs)
	// is not stored again: its result is the stored one, Duplicate true.
	// It fails with ErrMovedBack, storing nothing, when the epoch is no
	// longer epoch: the cluster went back to Redis meanwhile.
	Append(ctx context.Context, epoch int64, msgs ...Message) ([]Appended, error)
	// Return moves the cluster back to Redis as the sequencer: unless the
	// epoch is no longer epoch (another instance did it already: from is
	// then 0), it ends the epoch, so that every later Append under it is
	// refused, and reserves the seqs from the returned from for Redis:
	// the store's counter goes on gap above.
	Return(ctx context.Context, epoch, gap int64) (from int64, err error)
	// After and LastSeq are MessageStore's.
	After(ctx context.Context, after int64, limit int) ([]Message, error)
	LastSeq(ctx context.Context) (int64, error)
}

// Appended is what Sequencer.Append did with one message.
type Appended struct {
	Message
	Duplicate bool
}

// Typing is who is typing, shared by every instance: the typing
// indicator's one cluster-wide list. It is best effort (an entry lives
// until its time, a lost one is not missed), so its errors are logged,
// never shown to a user.
type Typing interface {
	// Set marks u as typing until until.
	Set(ctx context.Context, u User, until time.Time) error
	// Clear forgets u (their message was just accepted).
	Clear(ctx context.Context, u User) error
	// List returns up to limit users typing at now, in name order, and
	// how many type in all.
	List(ctx context.Context, now time.Time, limit int) (users []User, count int, err error)
}

// Bus gives each message its place in the room's order and carries it to
// every instance (in memory, or Redis pub/sub). It also keeps the recent
// messages (the cache of the reference design) for history and recovery.
//
// Errors: ErrUnavailable when the backing service cannot be reached.
type Bus interface {
	// Publish assigns msg.Seq, caches the message and delivers it to the
	// handler of every instance, in Seq order. When msg.ClientMsgID was
	// already published by the same user, it returns the first message
	// with duplicate true and publishes nothing.
	Publish(ctx context.Context, msg Message) (stored Message, duplicate bool, err error)
	// Subscribe sets the handler of this instance's deliveries: every
	// message with a seq above after, in seq order (after < 0: those
	// published from now on). It must be called once, before the first
	// Publish; handler calls are sequential. The caller chooses after
	// (the store's last seq when it starts) so that one start point holds
	// for what it delivers and what it replays: a message between two
	// start points read at different times would be neither.
	Subscribe(after int64, handler func(Message))
	// Recent returns up to limit cached messages with Seq < before
	// (before <= 0: newest), oldest first; it may return fewer than the
	// store has, never a gap.
	Recent(ctx context.Context, before int64, limit int) ([]Message, error)
	// Since returns the cached messages with Seq > after, oldest first,
	// and complete=false when the cache no longer holds all of them.
	Since(ctx context.Context, after int64, limit int) (msgs []Message, complete bool, err error)
	// EnsureSeq raises the room's sequence to at least seq (at start, from
	// the store, so that a flushed cache never reuses a number).
	EnsureSeq(ctx context.Context, seq int64) error
	// Close stops delivering.
	Close() error
}

// Presence tracks who is online. A user with several connections (tabs,
// instances) is one user.
//
// Errors: ErrUnavailable when the backing service cannot be reached.
type Presence interface {
	// Add registers a connection; first is true when it is the user's
	// only open connection; count is the number of users online after it.
	Add(ctx context.Context, c Conn) (first bool, count int, err error)
	// Remove forgets a connection. Removing an unknown socket returns a
	// Departure with Known false.
	Remove(ctx context.Context, socketID string) (Departure, error)
	// Online returns the number of users online and up to limit of them.
	Online(ctx context.Context, limit int) (count int, users []User, err error)
}

// Departure is what Presence.Remove did with a connection.
type Departure struct {
	User  User // whose connection it was
	Known bool // the connection was registered: false, nothing was removed
	Last  bool // it was the user's last connection: the user left
	Count int  // users online after it
}

// RateLimiter decides whether a user may send one more message.
//
// Errors: ErrUnavailable when the backing service cannot be reached.
type RateLimiter interface {
	Allow(ctx context.Context, userID string) (Decision, error)
}

// Decision is a rate limiter's answer.
type Decision struct {
	Allowed    bool
	Limit      int           // sends allowed per Window
	Window     time.Duration // the span of the limit
	Remaining  int
	RetryAfter time.Duration // when refused: how long until one more is allowed
}

// Checker is a dependency that can say whether it answers, for /readyz.
type Checker interface {
	Ping(ctx context.Context) error
}

// SecretStore keeps the server's secrets where every instance finds them
// and a restart keeps them: the message database (a Redis that loses its
// data must not change them).
//
// Errors: ErrUnavailable when the database cannot be reached.
type SecretStore interface {
	// Secret returns the secret kept under name; when none is kept yet,
	// it keeps fresh and returns it. Instances racing to keep their own
	// all get the one that was kept first.
	Secret(ctx context.Context, name string, fresh []byte) ([]byte, error)
}
