package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"
)

// Profiles of the server under test, taken at the moments that matter
// (a fanout step, the storm, the idle connections, the ingest) from a
// net/http/pprof endpoint given with -pprof: the bench script builds the
// server with one (bench/pprof) when BENCH_PROFILE=1.

// cpuProfile starts a CPU profile of d in the background and returns a
// function that waits for it to be written.
func (b *bench) cpuProfile(ctx context.Context, name string, d time.Duration) func() {
	if b.cfg.PprofURL == "" {
		return func() {}
	}
	secs := max(int(d.Round(time.Second)/time.Second), 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.fetchProfile(ctx, fmt.Sprintf("profile?seconds=%d", secs), name+".cpu.pb.gz", time.Duration(secs+30)*time.Second)
	}()
	return func() { <-done }
}

// heapProfile writes the server's live heap (after a GC) now.
func (b *bench) heapProfile(ctx context.Context, name string) {
	if b.cfg.PprofURL != "" {
		b.fetchProfile(ctx, "heap?gc=1", name+".heap.pb.gz", 30*time.Second)
	}
}

func (b *bench) fetchProfile(ctx context.Context, query, file string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	path := filepath.Join(b.cfg.ProfileDir, b.profilePrefix()+strings.TrimPrefix(file, "."))
	err := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.cfg.PprofURL+"/debug/pprof/"+query, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}()
	if err != nil {
		b.log.Warn("profile not taken", "file", path, "err", err)
		return
	}
	b.log.Info("profile written", "file", path)
}

func (b *bench) profilePrefix() string {
	name := b.cfg.Name
	if name == "" {
		name = b.cfg.Scenario
	}
	return name + "."
}

// startSelfProfile starts chatbench's own CPU profile into path (none
// when empty) and returns what stops and writes it.
func startSelfProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
