package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stealMeter samples the CPU time the hypervisor took from this virtual
// machine (the steal column of /proc/stat) every second of a run: its
// total, and the worst second, since a burst of it stalls servers and
// load generator alike and shows as a slow second in the latencies.
type stealMeter struct {
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	total time.Duration
	worst time.Duration
}

func startSteal() *stealMeter {
	m := &stealMeter{stop: make(chan struct{}), done: make(chan struct{})}
	go m.run()
	return m
}

func (m *stealMeter) run() {
	defer close(m.done)
	prev, err := machineSteal()
	if err != nil {
		return // not Linux, or no steal column: nothing to report
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		cur, err := machineSteal()
		if err != nil {
			return
		}
		m.mu.Lock()
		m.total += cur - prev
		m.worst = max(m.worst, cur-prev)
		m.mu.Unlock()
		prev = cur
	}
}

// finish stops sampling and returns the steal of the run and of its
// worst second, summed over the cores.
func (m *stealMeter) finish() (total, worst time.Duration) {
	close(m.stop)
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total, m.worst
}

// machineSteal reads the steal time of all cores from /proc/stat.
func machineSteal() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: no steal in %q", line)
	}
	v, err := strconv.ParseInt(f[8], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/stat: %w", err)
	}
	return time.Duration(v) * time.Second / clockTicks, nil
}
