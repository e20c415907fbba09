package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram counts latencies in microseconds in log-linear buckets (HDR
// style: 64 buckets per power of two, so a quantile is off by at most
// 1/64, about 1.6%), safe for many goroutines at once and fixed in size
// whatever the number of samples.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Uint64
}

const (
	subBits     = 6
	sub         = 1 << subBits // buckets per power of two
	histBuckets = 2*sub + 40*sub
)

// bucket maps v (µs) to its bucket: values below 2·sub have their own,
// above that each power of two is split in sub equal parts.
func bucket(v uint64) int {
	if v < 2*sub {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	i := 2*sub + (shift-1)*sub + int(v>>shift) - sub
	return min(i, histBuckets-1)
}

// bucketTop is the highest value bucket i holds.
func bucketTop(i int) uint64 {
	if i < 2*sub {
		return uint64(i)
	}
	shift := (i-2*sub)/sub + 1
	top := uint64((i-2*sub)%sub + sub)
	return (top+1)<<shift - 1
}

// Record adds one latency; negative ones (clock steps) count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d.Microseconds(), 0))
	h.counts[bucket(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count is the number of latencies recorded.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Max is the highest latency recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Quantile returns the latency below which a fraction q of the samples
// fall (the top of that bucket, never above Max); 0 with no samples.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketTop(i))*time.Microsecond, h.Max())
		}
	}
	return h.Max()
}
