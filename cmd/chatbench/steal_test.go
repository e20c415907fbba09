package main

import (
	"testing"
	"time"
)

// The steal meter reads /proc/stat each second and adds up what it saw.
func TestStealMeter(t *testing.T) {
	if _, err := machineSteal(); err != nil {
		t.Fatalf("machineSteal: %v", err)
	}
	m := startSteal()
	time.Sleep(1100 * time.Millisecond)
	total, worst := m.finish()
	if total < 0 || worst < 0 || worst > total || worst > 2*time.Second {
		t.Fatalf("steal over a second: total %v, worst second %v", total, worst)
	}
}
