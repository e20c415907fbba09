package faults

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// row is one stored message.
type row struct {
	id, userID, clientMsgID string
	seq                     int64
	// attempt is the sender's attempt whose copy was kept: the driver
	// writes "<clientMsgId> try <n>" as the content.
	attempt int
}

// readRows reads every stored message, as the judge does.
func readRows(t *testing.T, dsn string) []row {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs, err := db.QueryContext(ctx, "SELECT id, seq, user_id, COALESCE(client_msg_id, ''), content FROM messages")
	if err != nil {
		t.Fatalf("read MySQL: %v", err)
	}
	defer rs.Close()
	var rows []row
	for rs.Next() {
		var r row
		var content string
		if err := rs.Scan(&r.id, &r.seq, &r.userID, &r.clientMsgID, &content); err != nil {
			t.Fatal(err)
		}
		_, try, _ := strings.Cut(content, " try ")
		r.attempt, _ = strconv.Atoi(try)
		rows = append(rows, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// window is a span in which faults are being injected or healed: late,
// out-of-order deliveries are allowed inside it (and counted apart).
type window struct{ from, to time.Time }

func (w window) has(ms int64) bool {
	return ms >= w.from.UnixMilli() && ms <= w.to.UnixMilli()
}

// verdict is what one run of a scenario shows: the figures and, for each
// violated property, what violates it.
type verdict struct {
	acked, stored, lost, deliveries int
	dupDeliveries, missed           int
	outOfOrderIn, outOfOrderOut     int
	reconnects, notRecovered        int
	maxGap                          time.Duration
	maxGapSender                    string
	normalAfter                     time.Duration
	problems                        []string
}

func (v *verdict) fail(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *verdict) String() string {
	return fmt.Sprintf("acked %d, stored %d, lost %d, duplicate deliveries %d, missed deliveries %d, "+
		"out of order %d in outage / %d outside, reconnects %d (%d not recovered), "+
		"longest sender outage %.1fs (%s), normal %.1fs after the last fault action",
		v.acked, v.stored, v.lost, v.dupDeliveries, v.missed, v.outOfOrderIn, v.outOfOrderOut,
		v.reconnects, v.notRecovered, v.maxGap.Seconds(), v.maxGapSender, v.normalAfter.Seconds())
}

// judgement is the input of judge.
type judgement struct {
	recs     []record
	rows     []row
	outages  []window
	lastHeal time.Time // the last fault action (a restart, a resume)
	maxGap   time.Duration
}

// judge checks every property of the "Done when" on one run.
func judge(j judgement) *verdict {
	v := &verdict{}
	byID := checkRows(v, j.rows)
	checkAcks(v, j.recs, byID, j.rows)
	checkDeliveries(v, j, byID)
	checkReconnects(v, j.recs)
	checkGaps(v, j.recs, j.maxGap)
	v.normalAfter = normalAfter(j)
	return v
}

// checkRows: one seq per message, one message per (user, clientMsgId).
func checkRows(v *verdict, rows []row) map[string]row {
	byID := make(map[string]row, len(rows))
	bySeq := map[int64]string{}
	byClient := map[string]string{}
	for _, r := range rows {
		byID[r.id] = r
		if other, ok := bySeq[r.seq]; ok {
			v.fail("seq %d stored on two messages: %s and %s", r.seq, other, r.id)
		}
		bySeq[r.seq] = r.id
		if r.clientMsgID == "" {
			continue
		}
		key := r.userID + " " + r.clientMsgID
		if other, ok := byClient[key]; ok {
			v.fail("(%s, %s) stored twice: %s and %s", r.userID, r.clientMsgID, other, r.id)
		}
		byClient[key] = r.id
	}
	v.stored = len(rows)
	return byID
}

// checkAcks: every ok ack is in MySQL with its seq; no attempt that
// was refused, or not answered within the driver's ack timeout (above
// the server's operation timeout), is the one kept.
func checkAcks(v *verdict, recs []record, byID map[string]row, rows []row) {
	okByClient := map[string]record{}
	attempts := map[string]record{} // sender clientMsgId attempt -> its ack
	sender := map[string]string{}   // user id -> sender
	for _, r := range recs {
		if r.Kind == "sess" {
			sender[r.UserID] = r.Client
		}
		if r.Kind != "ack" {
			continue
		}
		key := r.Client + " " + r.ClientID
		attempts[fmt.Sprintf("%s %d", key, r.Attempt)] = r
		if !r.OK {
			continue
		}
		if prev, ok := okByClient[key]; ok && prev.ID != r.ID {
			v.fail("%s acked twice with two ids: %s (seq %d) and %s (seq %d)", r.ClientID, prev.ID, prev.Seq, r.ID, r.Seq)
		}
		okByClient[key] = r
	}
	v.acked = len(okByClient)
	checkLost(v, okByClient, byID)
	var told []string
	for _, st := range rows {
		a, ok := attempts[fmt.Sprintf("%s %s %d", sender[st.userID], st.clientMsgID, st.attempt)]
		if ok && !a.OK {
			told = append(told, fmt.Sprintf("%s try %d seq %d (told %s%s: %s at %s)", a.ClientID, a.Attempt, st.seq, a.Code, timedOut(a), a.Err, clock(a.TS)))
		}
	}
	if len(told) > 0 {
		sort.Strings(told)
		v.fail("%d attempts refused to their sender (or left unanswered) but kept: %s", len(told), first(told, 10))
	}
}

// checkLost: every ok-acked message is in MySQL with the seq of its ack.
func checkLost(v *verdict, okByClient map[string]record, byID map[string]row) {
	var lost []string
	for _, a := range okByClient {
		st, ok := byID[a.ID]
		switch {
		case !ok:
			lost = append(lost, fmt.Sprintf("%s id %s seq %d acked at %s", a.ClientID, a.ID, a.Seq, clock(a.TS)))
		case st.seq != a.Seq:
			v.fail("%s acked with seq %d, stored with seq %d", a.ClientID, a.Seq, st.seq)
		}
	}
	v.lost = len(lost)
	if len(lost) > 0 {
		sort.Strings(lost)
		v.fail("%d ok-acked messages missing from MySQL: %s", len(lost), first(lost, 10))
	}
}

func timedOut(a record) string {
	if a.Timeout {
		return "no answer"
	}
	return ""
}

// first returns the first n items, joined, with a count of the rest.
func first(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:n], "; ") + fmt.Sprintf("; and %d more", len(items)-n)
}

// clock formats a Unix ms time of day.
func clock(ms int64) string { return time.UnixMilli(ms).UTC().Format("15:04:05.000") }
