package main

import "testing"

// The fast read of a chat:message agrees with decoding it, whatever the
// content holds; what it does not recognise is decoded.
func TestMessageFields(t *testing.T) {
	for _, pkt := range []string{
		`2["chat:message",{"id":"0190-ab","seq":42,"userId":"guest:x","username":"a","content":"bench r.1 5 churn","createdAt":"2026-12-02T00:00:00Z"},"42"]`,
		`2["chat:message",{"id":"0190-ab","seq":42,"content":"a \"id\":\"fake\",\"seq\":7 trap"}]`,
		`2["chat:message",{"userId":"guest:\"id\":\"x","id":"real","seq":9,"content":"x"},"10"]`,
		`2["chat:message",{"id":"77","username":"reference","content":"no seq"}]`,
		`2["chat:message",{"id":"esc\u0041ped","seq":3},"3"]`,
	} {
		fast, fastOff, fastOK := messageFields([]byte(pkt))
		slow, slowOff, slowOK := decodeMessageFields([]byte(pkt))
		if fast != slow || fastOff != slowOff || fastOK != slowOK {
			t.Errorf("%s:\nfast %+v %q %v\nslow %+v %q %v", pkt, fast, fastOff, fastOK, slow, slowOff, slowOK)
		}
	}
}

// A client keeps the guest token of its chat:session, to stay the same
// user on its reconnects (it used to find none: the event's name does not
// decode as a session, and a reconnect was a new guest).
func TestGuestToken(t *testing.T) {
	for pkt, want := range map[string]string{
		`2["chat:session",{"userId":"guest:x","username":"a","guestToken":"g1.abc.def"}]`: "g1.abc.def",
		`2["chat:session",{"userId":"guest:x","username":"a"}]`:                           "",
		`2["chat:message",{"guestToken":"g1.abc.def"}]`:                                   "",
		`2["chat:session","not a session"]`:                                               "",
	} {
		if got := guestToken([]byte(pkt)); got != want {
			t.Errorf("guestToken(%s) = %q, want %q", pkt, got, want)
		}
	}
}
