package socketio

import "context"

// Broadcast is one packet sent to the sockets of a namespace that are in
// any of Rooms (all sockets when Rooms is empty) and in none of Except. The
// packet is encoded once, by the instance that sends it; every instance
// frames the same bytes for each of its recipients.
type Broadcast struct {
	Namespace string   `json:"nsp"`
	Rooms     []string `json:"rooms,omitempty"`
	Except    []string `json:"except,omitempty"`
	// Packet is the encoded Socket.IO packet (e.g. `2["event",{...}]`),
	// Attachments its binary attachments, in order.
	Packet      []byte   `json:"packet"`
	Attachments [][]byte `json:"attachments,omitempty"`
	// Emitted is when it was emitted on, or reached, this instance (unix
	// ns; 0 for replays): the start of its delivery latency.
	Emitted int64 `json:"-"`
	// Key names the broadcast for a recovering socket's duplicate check
	// when its offset cannot (BroadcastOperator.WithKey). It is not in
	// the packet, so an adapter carries it beside, for the sockets
	// recovering on the other instances.
	Key string `json:"key,omitempty"`
	// offset is the recovery offset, once known (offsetKnown): set where
	// the packet is encoded or first read, so that a replay or a held
	// broadcast need not parse the packet again to find it.
	offset      string
	offsetKnown bool
	lazy        bool // one of the server's LazyEvents
}

// recoveryOffset returns the broadcast's offset ("" for none).
func (b *Broadcast) recoveryOffset() string {
	if !b.offsetKnown {
		b.offset, b.offsetKnown = offsetOf(b.Packet), true
	}
	return b.offset
}

// replayKey is what a recovering socket knows the broadcast by: its key,
// or else its offset (a replay's broadcasts are known by their offsets).
func (b *Broadcast) replayKey() string {
	if b.Key != "" {
		return b.Key
	}
	return b.recoveryOffset()
}

// Adapter carries broadcasts beyond this process. The server delivers every
// broadcast to its own sockets itself, then hands it to the adapter, which
// delivers it on every other instance by calling the function given to
// Start there. An adapter never calls that function for a broadcast of its
// own instance.
type Adapter interface {
	// Start begins delivering other instances' broadcasts to deliver.
	Start(ctx context.Context, deliver func(Broadcast)) error
	// Publish hands a broadcast to the other instances.
	Publish(ctx context.Context, b Broadcast) error
	// Close stops publishing and delivering.
	Close() error
}

// LocalAdapter is the adapter of a single instance: nothing to carry.
type LocalAdapter struct{}

var _ Adapter = LocalAdapter{}

// Start implements Adapter.
func (LocalAdapter) Start(context.Context, func(Broadcast)) error { return nil }

// Publish implements Adapter.
func (LocalAdapter) Publish(context.Context, Broadcast) error { return nil }

// Close implements Adapter.
func (LocalAdapter) Close() error { return nil }
