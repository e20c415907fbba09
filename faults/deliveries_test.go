package faults

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// checkDeliveries: nothing shown that MySQL does not hold (by id and seq);
// every receiver ends with every stored message exactly once; in seq
// order outside the outage windows.
func checkDeliveries(v *verdict, j judgement, byID map[string]row) {
	seen := map[string]map[string]int{} // receiver -> id -> times
	maxSeq := map[string]int64{}
	maxOff := map[string]int64{}
	ghosts := map[string][]string{} // id -> receivers
	var outside, back []string
	for _, r := range j.recs {
		if r.Kind != "del" {
			continue
		}
		v.deliveries++
		if seen[r.Client] == nil {
			seen[r.Client] = map[string]int{}
		}
		seen[r.Client][r.ID]++
		if st, ok := byID[r.ID]; !ok || st.seq != r.Seq {
			ghosts[fmt.Sprintf("%s seq %d", r.ID, r.Seq)] = append(ghosts[fmt.Sprintf("%s seq %d", r.ID, r.Seq)], r.Client)
		}
		if r.Seq <= maxSeq[r.Client] {
			if inAny(j.outages, r.TS) {
				v.outOfOrderIn++
			} else {
				v.outOfOrderOut++
				outside = append(outside, fmt.Sprintf("%s got seq %d after %d at %s", r.Client, r.Seq, maxSeq[r.Client], clock(r.TS)))
			}
		}
		maxSeq[r.Client] = max(maxSeq[r.Client], r.Seq)
		if off, err := strconv.ParseInt(fmt.Sprint(r.Off), 10, 64); err == nil {
			if off < maxOff[r.Client] {
				back = append(back, fmt.Sprintf("%s from %d to %d at %s", r.Client, maxOff[r.Client], off, clock(r.TS)))
			}
			maxOff[r.Client] = max(maxOff[r.Client], off)
		}
	}
	if len(back) > 0 {
		v.fail("%d deliveries moved a receiver's recovery offset back: %s", len(back), first(back, 10))
	}
	if len(ghosts) > 0 {
		var list []string
		for k, rs := range ghosts {
			list = append(list, fmt.Sprintf("%s (to %d receivers)", k, len(rs)))
		}
		sort.Strings(list)
		v.fail("%d messages shown to receivers but not in MySQL with that seq: %s", len(ghosts), first(list, 10))
	}
	if len(outside) > 0 {
		v.fail("%d deliveries out of seq order outside the outage: %s", len(outside), first(outside, 10))
	}
	checkEveryoneGotAll(v, seen, byID)
	explainDuplicates(v, j.recs, seen)
}

// explainDuplicates tells, for the first receiver shown a message twice,
// when it got it and when it (re)connected around then.
func explainDuplicates(v *verdict, recs []record, seen map[string]map[string]int) {
	for _, r := range recs {
		if r.Kind != "del" || seen[r.Client][r.ID] < 2 {
			continue
		}
		var story []string
		for _, e := range recs {
			near := e.TS > r.TS-5000 && e.TS < r.TS+5000
			switch {
			case e.Client != r.Client:
			case e.Kind == "del" && e.ID == r.ID:
				story = append(story, fmt.Sprintf("got it (offset %v) at %s", e.Off, clock(e.TS)))
			case near && (e.Kind == "conn" || e.Kind == "disc"):
				story = append(story, fmt.Sprintf("%s (recovered %v, %s) at %s", e.Kind, e.Rec, e.Why, clock(e.TS)))
			}
		}
		v.fail("%s, seq %d: %s", r.Client, r.Seq, strings.Join(story, "; "))
		return
	}
}

func inAny(ws []window, ms int64) bool {
	for _, w := range ws {
		if w.has(ms) {
			return true
		}
	}
	return false
}

// checkEveryoneGotAll counts, per receiver, stored messages never shown
// and messages shown more than once.
func checkEveryoneGotAll(v *verdict, seen map[string]map[string]int, byID map[string]row) {
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var missing, twice []int64
		dups := 0
		for id, st := range byID {
			if seen[name][id] == 0 {
				missing = append(missing, st.seq)
			}
		}
		for id, n := range seen[name] {
			if n > 1 {
				dups += n - 1
				twice = append(twice, byID[id].seq)
			}
		}
		v.missed += len(missing)
		v.dupDeliveries += dups
		if len(missing) > 0 {
			v.fail("%s never got %d stored messages: seqs %s", name, len(missing), seqRanges(missing))
		}
		if dups > 0 {
			v.fail("%s got %d duplicate deliveries: seqs %s", name, dups, seqRanges(twice))
		}
	}
}

// seqRanges writes seqs as "1-4, 9, 12-13" (at most 20 ranges).
func seqRanges(seqs []int64) string {
	sort.Slice(seqs, func(a, b int) bool { return seqs[a] < seqs[b] })
	var parts []string
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(seqs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", seqs[i], seqs[j]))
		}
		i = j + 1
	}
	return first(parts, 20)
}

// checkReconnects: every reconnect (within the recovery window, which is
// longer than any scenario) recovered.
func checkReconnects(v *verdict, recs []record) {
	var bad []string
	for _, r := range recs {
		if r.Kind != "conn" || r.N < 2 {
			continue
		}
		v.reconnects++
		if !r.Rec {
			bad = append(bad, fmt.Sprintf("%s at %s", r.Client, clock(r.TS)))
		}
	}
	v.notRecovered = len(bad)
	if len(bad) > 0 {
		v.fail("%d of %d reconnects not recovered: %s", len(bad), v.reconnects, first(bad, 12))
	}
}

// checkGaps measures, per sender, the longest time between the start (or
// an ok ack) and the next ok ack, and up to the stop when the sender was
// still trying then; above limit (when set) it is a failure.
func checkGaps(v *verdict, recs []record, limit time.Duration) {
	var start, stop int64
	last := map[string]int64{}
	trying := map[string]bool{}
	for _, r := range recs {
		switch {
		case r.Kind == "start":
			start = r.TS
		case r.Kind == "stop":
			stop = r.TS
		case r.Kind == "ack":
			from, ok := last[r.Client]
			if !ok {
				from = start
			}
			if r.OK {
				v.gap(r.Client, from, r.TS)
				last[r.Client] = r.TS
			}
			trying[r.Client] = !r.OK
		}
	}
	for name, t := range trying {
		if t && stop > 0 {
			v.gap(name, last[name], stop)
		}
	}
	if limit > 0 && v.maxGap > limit {
		v.fail("sender %s saw no ok ack for %.1fs (limit %v)", v.maxGapSender, v.maxGap.Seconds(), limit)
	}
}

func (v *verdict) gap(sender string, from, to int64) {
	if d := time.Duration(to-from) * time.Millisecond; d > v.maxGap {
		v.maxGap = d
		v.maxGapSender = fmt.Sprintf("%s, %s to %s", sender, clock(from), clock(to))
	}
}

// normalAfter is how long after the last fault action the last anomaly
// was seen: a refused or timed-out attempt, a reconnect, a late delivery.
func normalAfter(j judgement) time.Duration {
	var lastBad int64
	maxSeq := map[string]int64{}
	for _, r := range j.recs {
		bad := false
		switch r.Kind {
		case "ack":
			bad = !r.OK
		case "conn":
			bad = r.N > 1
		case "disc", "cerr":
			bad = true
		case "del":
			bad = r.Seq <= maxSeq[r.Client]
			maxSeq[r.Client] = max(maxSeq[r.Client], r.Seq)
		}
		if bad {
			lastBad = max(lastBad, r.TS)
		}
	}
	d := time.Duration(lastBad-j.lastHeal.UnixMilli()) * time.Millisecond
	return max(d, 0)
}

// diagnosis is the compact story of a failed run: the problems, then the
// instances' warnings and errors.
func diagnosis(v *verdict, c *cluster) string {
	var b strings.Builder
	for _, p := range v.problems {
		b.WriteString("  - " + p + "\n")
	}
	b.WriteString("instance logs (warnings and errors):\n")
	b.WriteString(c.logs(40, "level=WARN", "level=ERROR", "===", "panic"))
	return b.String()
}
