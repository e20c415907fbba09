package main

import (
	"math"
	"runtime/metrics"
	"time"
)

// The load generator shares the cores with the server it measures: when
// its own goroutines wait for a core, every latency it records includes
// that wait. Each result says how long they waited (the runtime's
// scheduling latencies over the scenario), so that a figure can be told
// apart from the generator's own queueing.

// schedLatencies returns how long the process's goroutines have waited
// for a core since it started, as the runtime's histogram (nil when the
// runtime does not say).
func schedLatencies() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// schedQuantile returns the q quantile of the waits between two readings
// of schedLatencies (the upper bound of its bucket).
func schedQuantile(before, after *metrics.Float64Histogram, q float64) time.Duration {
	if after == nil {
		return 0
	}
	counts := make([]uint64, len(after.Counts))
	var total uint64
	for i, c := range after.Counts {
		if before != nil && i < len(before.Counts) {
			c -= before.Counts[i]
		}
		counts[i], total = c, total+c
	}
	target := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		if seen += c; total > 0 && seen >= target {
			upper := after.Buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = after.Buckets[i]
			}
			return time.Duration(upper * float64(time.Second))
		}
	}
	return 0
}
