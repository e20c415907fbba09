package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Markers of the generated part of a markdown file.
const (
	mdBegin = "<!-- bench:begin -->"
	mdEnd   = "<!-- bench:end -->"
)

// row is one line of the comparison: a metric of a scenario on each target.
type row struct {
	scenario, metric, unit, better string
	values                         map[string]float64
}

// table is every row, in the order the results list them.
type table struct {
	rows    []*row
	runs    []*Result
	targets []string
}

// loadTable reads every *.json result in dir, in file name order.
func loadTable(dir string) (*table, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	t := &table{targets: []string{"project", "reference"}}
	index := map[string]*row{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if r.Scenario == "" || r.Target == "" {
			continue
		}
		if !slices.Contains(t.targets, r.Target) {
			t.targets = append(t.targets, r.Target)
		}
		t.runs = append(t.runs, &r)
		for _, m := range r.Metrics {
			key := r.Scenario + "\x00" + m.Name
			x := index[key]
			if x == nil {
				x = &row{scenario: r.Scenario, metric: m.Name, unit: m.Unit, better: m.Better, values: map[string]float64{}}
				index[key] = x
				t.rows = append(t.rows, x)
			}
			x.values[r.Target] = m.Value
		}
	}
	if len(t.rows) == 0 {
		return nil, fmt.Errorf("no results in %s", dir)
	}
	return t, nil
}

// cells formats a row: the value on each target and project/reference.
func (t *table) cells(r *row) []string {
	out := []string{r.scenario, label(r)}
	for _, target := range t.targets {
		v, ok := r.values[target]
		if !ok {
			out = append(out, "—")
			continue
		}
		out = append(out, formatValue(v))
	}
	p, ok1 := r.values["project"]
	ref, ok2 := r.values["reference"]
	switch {
	case ok1 && ok2 && ref != 0:
		out = append(out, fmt.Sprintf("%s×", formatValue(p/ref)))
	default:
		out = append(out, "—")
	}
	return out
}

func label(r *row) string {
	s := strings.TrimSpace(r.metric)
	if r.unit != "" {
		s += " (" + r.unit + ")"
	}
	switch r.better {
	case "higher":
		s += " ↑"
	case "lower":
		s += " ↓"
	}
	return s
}

func (t *table) header() []string {
	return append(append([]string{"scenario", "metric"}, t.targets...), "ratio")
}

// text prints the table for a terminal.
func (t *table) text(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(t.header(), "\t")+"\t")
	last := ""
	for _, r := range t.rows {
		c := t.cells(r)
		if c[0] == last {
			c[0] = ""
		} else {
			last = c[0]
		}
		fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
	}
	tw.Flush()
}

// markdown renders the table, the run conditions and the machine.
func (t *table) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s. Ratio is project ÷ reference; ↑ higher is better, ↓ lower is better.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	h := t.header()
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(h, " | "), strings.Repeat("---|", len(h)))
	last := ""
	for _, r := range t.rows {
		c := t.cells(r)
		if c[0] == last {
			c[0] = ""
		} else {
			last = c[0]
			c[0] = "**" + c[0] + "**"
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(c, " | "))
	}
	b.WriteString("\nRun conditions: the 1-minute load average at the start, the machine's CPU use over the run (all cores), who used it, in cores: the servers under test, the load generator, Redis and MariaDB, and other work on the machine (the rest); and the CPU time the hypervisor stole from this virtual machine, over the run and in its worst second (a stall for everything running).\n\n")
	b.WriteString("| scenario | target | seconds | load at start | machine CPU busy | servers | load generator | Redis+MariaDB | other work | stolen (ms) | stolen, worst second (ms) | notes |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range t.runs {
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.2f | %.0f%% | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %s |\n", r.Scenario, r.Target, r.Seconds, r.Load1[0],
			100*r.MachineBusy, r.ServerCores, r.GeneratorCores, r.InfraCores, r.OtherCores, r.StealMs, r.StealWorstMs, strings.Join(r.Notes, "; "))
	}
	b.WriteString("\nMachine: " + machine() + "\n")
	return b.String()
}

// machine describes where the run happened.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimLeft(v, " \t:"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(string(b), "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node, err := exec.CommandContext(ctx, "node", "--version").Output()
	if err != nil {
		node = []byte("not found")
	}
	return fmt.Sprintf("%d cores (%s), %s memory, Linux %s, %s, Node.js %s",
		runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)), runtime.Version(), strings.TrimSpace(string(node)))
}

// writeReport prints the table and, with md set, writes it into that file
// between the markers (appending them when absent).
func writeReport(dir, md string, out io.Writer) error {
	t, err := loadTable(dir)
	if err != nil {
		return err
	}
	t.text(out)
	if md == "" {
		return nil
	}
	old, err := os.ReadFile(md)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(md, []byte(splice(string(old), t.markdown())), 0o644)
}

// splice puts gen between the markers of doc.
func splice(doc, gen string) string {
	block := mdBegin + "\n" + gen + mdEnd
	i := strings.Index(doc, mdBegin)
	j := strings.Index(doc, mdEnd)
	if i < 0 || j < i {
		if doc != "" && !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		return doc + "\n" + block + "\n"
	}
	return doc[:i] + block + doc[j+len(mdEnd):]
}
