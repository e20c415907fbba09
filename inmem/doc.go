// Package inmem holds the in-memory implementations of the real-time state
// of one instance: the message bus, presence, the rate limiter and the
// Socket.IO session store. They are the embedded default and the fallback
// when Redis is down; every structure is bounded (by size or by TTL).
//
// It imports the domain package and socketio only, no sibling
// implementation.
package inmem
