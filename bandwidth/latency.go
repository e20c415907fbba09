package bandwidth

import (
	"math"
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds, in seconds, of the delivery latency
// buckets (the last bucket, above them, is +Inf).
var latencyBounds = [...]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// latencies is a histogram of delivery latencies kept with atomic adds,
// so that a Flusher can take what changed in the last second (a
// Prometheus histogram only gives the whole history).
type latencies struct {
	buckets [len(latencyBounds) + 1]atomic.Uint64
	sumNs   atomic.Int64
}

func (l *latencies) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(latencyBounds) && s > latencyBounds[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.sumNs.Add(int64(d))
}

// Latency is a delivery latency histogram at one moment: the count in
// each bucket (not cumulative) and the sum.
type Latency struct {
	Buckets [len(latencyBounds) + 1]uint64
	Sum     time.Duration
}

func (l *latencies) read() Latency {
	var out Latency
	for i := range l.buckets {
		out.Buckets[i] = l.buckets[i].Load()
	}
	out.Sum = time.Duration(l.sumNs.Load())
	return out
}

// Count is the number of deliveries.
func (l Latency) Count() uint64 {
	var n uint64
	for _, b := range l.Buckets {
		n += b
	}
	return n
}

func (l Latency) sub(m Latency) Latency {
	for i := range l.Buckets {
		l.Buckets[i] -= m.Buckets[i]
	}
	l.Sum -= m.Sum
	return l
}

// Quantile estimates the q-quantile (0 < q < 1) by linear interpolation
// within its bucket, as Prometheus's histogram_quantile does; 0 without
// deliveries. Above the last bound it answers the last bound.
func (l Latency) Quantile(q float64) time.Duration {
	n := l.Count()
	if n == 0 {
		return 0
	}
	rank := q * float64(n)
	var seen float64
	for i, c := range l.Buckets {
		if c == 0 || seen+float64(c) < rank {
			seen += float64(c)
			continue
		}
		if i == len(latencyBounds) {
			break
		}
		lo := 0.0
		if i > 0 {
			lo = latencyBounds[i-1]
		}
		s := lo + (latencyBounds[i]-lo)*(rank-seen)/float64(c)
		return time.Duration(math.Round(s * 1e9))
	}
	return time.Duration(latencyBounds[len(latencyBounds)-1] * 1e9)
}
