"""An independent client in the test suite: Python's python-socketio (the
Debian package python3-socketio, not the official JavaScript client) joins
the chat, gets the history, sends with an ack and receives a broadcast,
over the transport given. Driven by cmd/globalchat/python_test.go.

Usage: python3 chat.py URL polling|websocket
Prints one "ok" line per step; exits 1 with the reason on the first failure.
"""
import sys
import threading
import uuid

import socketio

WAIT = 10  # seconds, for every step


class Guest:
    """One chat user on its own connection, recording what it receives."""

    def __init__(self, url, transport, name):
        self.name = name
        self.history = None
        self.session = None
        self.messages = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("chat:history", self._on_history)
        self.sio.on("chat:session", self._on_session)
        self.sio.on("chat:message", self._on_message)
        self.sio.connect(url, transports=[transport], auth={"username": name}, wait_timeout=WAIT)
        if self.sio.transport() != transport:
            fail(f"{name} is on {self.sio.transport()}, not {transport}")

    def _on_history(self, data, *offset):
        with self.cond:
            self.history = data["messages"]
            self.cond.notify_all()

    def _on_session(self, data):
        with self.cond:
            self.session = data
            self.cond.notify_all()

    def _on_message(self, message, *offset):
        with self.cond:
            self.messages.append(message)
            self.cond.notify_all()

    def wait(self, what, cond):
        with self.cond:
            if not self.cond.wait_for(cond, timeout=WAIT):
                fail(f"{self.name}: no {what} within {WAIT}s")

    def send(self, content):
        """Sends a message and returns the stored message from the ack."""
        ack = self.sio.call("chat:message", {"content": content, "clientMsgId": str(uuid.uuid4())}, timeout=WAIT)
        if not isinstance(ack, dict) or ack.get("ok") is not True:
            fail(f"{self.name}: ack {ack!r}")
        message = ack["message"]
        if message["content"] != content or message["username"] != self.name:
            fail(f"{self.name}: acked message {message!r}")
        return message


def fail(why):
    print("FAIL:", why, flush=True)
    sys.exit(1)


def ok(step):
    print("ok ", step, flush=True)


def main():
    url, transport = sys.argv[1], sys.argv[2]
    ada = Guest(url, transport, "ada-" + transport)
    ada.wait("chat:history", lambda: ada.history is not None)
    ok(f"ada joins over {transport} and gets the history")
    first = ada.send(f"hello from python over {transport}")
    ok(f"ada sends with an ack (seq {first['seq']})")

    bob = Guest(url, transport, "bob-" + transport)
    bob.wait("chat:history", lambda: bob.history is not None)
    if not any(m["id"] == first["id"] for m in bob.history):
        fail(f"bob's history lacks ada's message: {bob.history!r}")
    ok("bob joins and his history holds ada's message")

    reply = bob.send(f"reply over {transport}")
    ada.wait("broadcast", lambda: any(m["id"] == reply["id"] for m in ada.messages))
    got = next(m for m in ada.messages if m["id"] == reply["id"])
    if got["content"] != reply["content"] or got["seq"] != reply["seq"]:
        fail(f"broadcast {got!r} is not the acked {reply!r}")
    ok("ada receives bob's message as a broadcast")

    bob.sio.disconnect()
    ada.sio.disconnect()
    ok("both leave")


if __name__ == "__main__":
    main()
