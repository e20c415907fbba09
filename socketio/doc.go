// Package socketio is a Socket.IO v5 server (the protocol of the official
// socket.io 3.x/4.x clients) over the Engine.IO v4 transport of package
// engineio: namespaces with auth middleware, events and acks both ways,
// binary attachments, rooms and broadcasts encoded once, an Adapter seam
// for broadcasts across instances, and connection state recovery with
// pluggable stores. It knows nothing of the chat built on it.
//
// Spec: https://github.com/socketio/socket.io-protocol (v5).
package socketio
