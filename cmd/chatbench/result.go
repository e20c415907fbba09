package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Result is what one run measured, as written with -json.
type Result struct {
	Scenario string    `json:"scenario"`
	Target   string    `json:"target"`
	Config   *config   `json:"config"`
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	// Load1 is the machine's 1-minute load average at start and end, and
	// MachineBusy its CPU use (0..1 of all cores) over the run: how busy
	// the machine was, including this process and the servers.
	Load1       [2]float64 `json:"load1"`
	MachineBusy float64    `json:"machineBusy"`
	// CPU over the run, in cores: this process (the load generator), the
	// servers under test, the shared services (Redis, MariaDB), and what
	// is left of the machine's use: other work on the machine.
	GeneratorCores float64 `json:"generatorCores"`
	ServerCores    float64 `json:"serverCores"`
	InfraCores     float64 `json:"infraCores"`
	OtherCores     float64 `json:"otherCores"`
	// StealMs is the CPU time (ms, all cores) the hypervisor took from
	// the machine during the run, StealWorstMs that of its worst second.
	StealMs      float64 `json:"stealMs"`
	StealWorstMs float64 `json:"stealWorstMs"`

	Metrics []Metric `json:"metrics"`
	Steps   []Step   `json:"steps,omitempty"`
	Notes   []string `json:"notes,omitempty"`

	cpuGen, cpuServer, cpuInfra *cpuMeter
	steal                       *stealMeter
}

// Metric is one number of the result. Better says which way is good:
// "higher", "lower" or "" (informational).
type Metric struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Better string  `json:"better,omitempty"`
}

// Step is one rate of a stepped fanout.
type Step struct {
	Rate          float64 `json:"rate"`
	Sent          uint64  `json:"sent"`
	SentPerSec    float64 `json:"sentPerSec"`
	Received      uint64  `json:"received"`
	Expected      uint64  `json:"expected"`
	DeliveriesSec float64 `json:"deliveriesPerSec"`
	Ratio         float64 `json:"ratio"`
	P50ms         float64 `json:"p50ms"`
	P99ms         float64 `json:"p99ms"`
	MaxMs         float64 `json:"maxMs"`
	AckErrors     uint64  `json:"ackErrors"`
	AcksMissing   uint64  `json:"acksMissing"`
	Disconnects   int     `json:"disconnects"`
	ServerCores   float64 `json:"serverCores"`
	Pass          bool    `json:"pass"`
	// MaxMsBySecond is the highest latency of the messages sent in each
	// second of the step: where the tail comes from, steady or stalls.
	MaxMsBySecond []float64 `json:"maxMsBySecond"`
}

func (r *Result) add(name string, v float64, unit, better string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, Unit: unit, Better: better})
}

func (r *Result) addMs(name string, d time.Duration) {
	r.add(name, float64(d.Microseconds())/1000, "ms", "lower")
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *Result) finish() {
	r.Seconds = time.Since(r.Started).Seconds()
	r.Load1[1] = loadAvg()
	r.GeneratorCores, r.MachineBusy = r.cpuGen.stop()
	r.ServerCores, _ = r.cpuServer.stop()
	r.InfraCores, _ = r.cpuInfra.stop()
	all := r.MachineBusy * float64(runtime.NumCPU())
	r.OtherCores = max(all-r.GeneratorCores-r.ServerCores-r.InfraCores, 0)
	if r.steal != nil {
		total, worst := r.steal.finish()
		r.StealMs, r.StealWorstMs = ms(total), ms(worst)
	}
}

func (r *Result) print(w io.Writer) {
	fmt.Fprintf(w, "%s on %s (%.0fs, load %.2f→%.2f, machine CPU %.0f%%; cores: servers %.2f, load generator %.2f, Redis+MariaDB %.2f, other work %.2f; stolen by the hypervisor %.0f ms, worst second %.0f ms)\n",
		r.Scenario, r.Target, r.Seconds, r.Load1[0], r.Load1[1], 100*r.MachineBusy, r.ServerCores, r.GeneratorCores, r.InfraCores, r.OtherCores,
		r.StealMs, r.StealWorstMs)
	for _, s := range r.Steps {
		mark := "pass"
		if !s.Pass {
			mark = "MISS"
		}
		fmt.Fprintf(w, "  step %7.0f msg/s: sent %7.0f/s  delivered %9.0f/s  ratio %.4f  acks missing %d  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  server %.2f cores  %s\n",
			s.Rate, s.SentPerSec, s.DeliveriesSec, s.Ratio, s.AcksMissing, s.P50ms, s.P99ms, s.MaxMs, s.ServerCores, mark)
		if len(s.MaxMsBySecond) > 0 {
			fmt.Fprintf(w, "    max latency of each second (ms): %s\n", strings.Trim(fmt.Sprintf("%.0f", s.MaxMsBySecond), "[]"))
		}
	}
	for _, m := range r.Metrics {
		fmt.Fprintf(w, "  %-40s %14s %s\n", m.Name, formatValue(m.Value), m.Unit)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

func (r *Result) save(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// formatValue prints a number with sensible precision for a table.
func formatValue(v float64) string {
	a := v
	if a < 0 {
		a = -a
	}
	switch {
	case a == 0:
		return "0"
	case a >= 1000:
		return commas(fmt.Sprintf("%.0f", v))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.1:
		return fmt.Sprintf("%.3g", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

// commas groups the digits of an integer string by thousands.
func commas(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
