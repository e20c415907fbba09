package faults

import (
	"strings"
	"testing"
	"time"
)

// TestJudgeCatchesEachViolation feeds the judge a small run with one
// violation of each kind and checks that each is named, so that a green
// fault scenario means what it says.
func TestJudgeCatchesEachViolation(t *testing.T) {
	t0 := time.UnixMilli(1_000_000)
	at := func(s float64) int64 { return t0.Add(time.Duration(s * float64(time.Second))).UnixMilli() }
	rows := []row{
		{id: "a", seq: 1, userID: "guest:faults-guest-s1", clientMsgID: "s1-1", attempt: 1},
		{id: "b", seq: 2, userID: "guest:faults-guest-s1", clientMsgID: "s1-2", attempt: 1},
		{id: "c", seq: 3, userID: "guest:faults-guest-s1", clientMsgID: "s1-2", attempt: 2},
	}
	recs := []record{
		{Kind: "sess", Client: "s1", UserID: "guest:faults-guest-s1", TS: at(0)},
		{Kind: "start", TS: at(0)},
		{Kind: "conn", Client: "r1", N: 1, TS: at(0)},
		{Kind: "ack", Client: "s1", ClientID: "s1-1", Attempt: 1, OK: true, ID: "a", Seq: 1, TS: at(0.1)},
		{Kind: "del", Client: "r1", ID: "a", Seq: 1, Off: "1", TS: at(0.1)},
		{Kind: "ack", Client: "s1", ClientID: "s1-2", Attempt: 1, Code: "unavailable", TS: at(0.2)},
		{Kind: "ack", Client: "s1", ClientID: "s1-2", Attempt: 2, OK: true, ID: "c", Seq: 3, TS: at(8)},
		{Kind: "ack", Client: "s1", ClientID: "s1-3", Attempt: 1, OK: true, ID: "lost", Seq: 4, TS: at(8.1)},
		{Kind: "del", Client: "r1", ID: "ghost", Seq: 5, Off: "5", TS: at(8.2)},
		{Kind: "del", Client: "r1", ID: "c", Seq: 3, Off: "3", TS: at(8.3)},
		{Kind: "del", Client: "r1", ID: "c", Seq: 3, TS: at(8.4)},
		{Kind: "conn", Client: "r1", N: 2, Rec: false, TS: at(9)},
		{Kind: "stop", TS: at(10)},
	}
	v := judge(judgement{recs: recs, rows: rows, lastHeal: t0, maxGap: 6 * time.Second})
	want := []string{
		"(guest:faults-guest-s1, s1-2) stored twice",
		"1 ok-acked messages missing from MySQL: s1-3 id lost",
		"s1-2 try 1 seq 2 (told unavailable",
		"ghost seq 5 (to 1 receivers)",
		"out of seq order outside the outage: r1 got seq 3 after 5",
		"r1 never got 1 stored messages: seqs 2",
		"r1 got 1 duplicate deliveries",
		"1 of 1 reconnects not recovered",
		"sender s1, ",
		"moved a receiver's recovery offset back: r1 from 5 to 3",
		"r1, seq 3: got it (offset 3) at",
	}
	all := strings.Join(v.problems, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in:\n%s", w, all)
		}
	}
	if v.acked != 3 || v.lost != 1 || v.maxGap < 7*time.Second {
		t.Errorf("figures: %s", v)
	}

	// The same late delivery inside an outage is counted, not failed.
	v = judge(judgement{recs: recs, rows: rows, outages: []window{{t0.Add(8 * time.Second), t0.Add(9 * time.Second)}}})
	if v.outOfOrderIn != 2 || v.outOfOrderOut != 0 {
		t.Errorf("in an outage: %s", v)
	}
}
