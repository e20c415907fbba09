// Package inmem holds the in-memory implementations of the real-time state
// of one instance: the message bus, presence and the rate limiter (the
// Socket.IO session store in memory is socketio's own). They are the
// embedded default and the fallback when Redis is down; every structure is
// bounded (by size or by TTL).
//
// It imports the domain package only, no sibling implementation.
package inmem
