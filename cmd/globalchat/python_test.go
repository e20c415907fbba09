package main

import (
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestPythonClient runs pyclient/chat.py, Python's python-socketio (an
// implementation independent of the official JavaScript client): two
// users join, get the history, send with an ack and receive each other's
// broadcast, over long-polling and over WebSocket.
func TestPythonClient(t *testing.T) {
	base := startBinary(t).url
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			testenv.Python(t, time.Minute, "socketio, requests, websocket", "pyclient/chat.py", base, transport)
		})
	}
}
