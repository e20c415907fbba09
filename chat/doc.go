// Package chat is the global chat room: the connection, message and
// disconnect flows of the reference design, wired between the socketio
// server and the domain interfaces (store, bus, presence, rate limiter).
// It imports the root package and socketio, never an implementation.
package chat
