package main

import (
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestPythonClient runs pyclient/chat.py, Python's python-socketio (an
// implementation independent of the official JavaScript client): two
// users join, get the history, send with an ack and receive each other's
// broadcast, over long-polling and over WebSocket.
func TestPythonClient(t *testing.T) {
	base := startBinary(t)
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			testenv.Python(t, time.Minute, "socketio, requests, websocket", "pyclient/chat.py", base, transport)
		})
	}
}

// startBinary starts the server on embedded defaults and returns its URL
// once /healthz answers; the test's end stops it.
func startBinary(t *testing.T) string {
	t.Helper()
	port := testenv.FreePort(t)
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "SQLITE_PATH="+t.TempDir()+"/chat.db", "LOG_LEVEL=warn")
	log, err := os.Create(t.TempDir() + "/stderr")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("server log:\n%s", b)
		}
	})
	base := "http://" + testenv.Addr(port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not start")
		}
	}
}
