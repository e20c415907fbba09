package main

import (
	"bytes"
	"strconv"
	"time"
)

// A bench message's content carries what a receiver needs to measure it
// without a JSON decode: "bench <run>.<step> <unixnano> <tag>". The send
// time is the sender's clock, the same machine's as the receiver's.
func content(run string, step int, sent time.Time, tag string) string {
	return "bench " + run + "." + strconv.Itoa(step) + " " + strconv.FormatInt(sent.UnixNano(), 10) + " " + tag
}

var contentKey = []byte(`"content":"bench `)

// parseContent finds a bench content of this run in a chat:message packet
// and returns its step and send time.
func parseContent(pkt []byte, run string) (step int, sent time.Time, ok bool) {
	i := bytes.Index(pkt, contentKey)
	if i < 0 {
		return 0, time.Time{}, false
	}
	s := pkt[i+len(contentKey):]
	if len(s) < len(run)+1 || string(s[:len(run)]) != run || s[len(run)] != '.' {
		return 0, time.Time{}, false
	}
	s = s[len(run)+1:]
	step, s, ok1 := digits(s)
	if !ok1 || len(s) == 0 || s[0] != ' ' {
		return 0, time.Time{}, false
	}
	ns, s, ok2 := digits(s[1:])
	if !ok2 || len(s) == 0 || s[0] != ' ' {
		return 0, time.Time{}, false
	}
	return step, time.Unix(0, int64(ns)), true
}

// digits reads a decimal number (at most 19 digits) at the start of s.
func digits(s []byte) (int, []byte, bool) {
	n, i := 0, 0
	for i < len(s) && i < 19 && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	return n, s[i:], i > 0
}
