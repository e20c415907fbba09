// Package engineio is a server of the Engine.IO protocol, version 4: the
// transport layer under Socket.IO. It handles the handshake, HTTP
// long-polling, WebSocket, the upgrade from one to the other, heartbeats and
// each connection's bounded outbound queue, and hands the messages of each
// connection to the layer above. It knows nothing of Socket.IO packets.
//
// Spec: https://github.com/socketio/engine.io-protocol (v4).
package engineio
