package bandwidth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMeterCountsConcurrently(t *testing.T) {
	m := NewMeter()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				m.Sent(true, 2, 10)
				m.Received(false, 1, 3)
				m.MessagesOut(5)
			}
		})
	}
	wg.Wait()
	m.Opened()
	m.Closed()
	m.MessageIn()
	tot := m.Totals()
	if ws := tot.Endpoints[WebSocket]; ws.FramesOut != 16000 || ws.BytesOut != 80000 {
		t.Fatalf("websocket %+v", ws)
	}
	if p := tot.Endpoints[Polling]; p.FramesIn != 8000 || p.BytesIn != 24000 {
		t.Fatalf("polling %+v", p)
	}
	if tot.MessagesOut != 40000 || tot.MessagesIn != 1 || tot.ConnsOpened != 1 || tot.ConnsClosed != 1 {
		t.Fatalf("%+v", tot)
	}
	var nilMeter *Meter
	nilMeter.Sent(true, 1, 1) // a nil meter counts nothing, and does not panic
}

func TestPointRoundTrip(t *testing.T) {
	p := Point{At: time.Unix(1700000000, 0), Traffic: Traffic{1, 2, 3, 4}, MessagesIn: 5, MessagesOut: 6, ConnsOpened: 7, ConnsClosed: 8, Online: 9}
	q, err := ParsePoint("1700000000:" + p.Counts())
	if err != nil || q != p {
		t.Fatalf("%+v %v", q, err)
	}
	for _, bad := range []string{"", "1:2", "1:2:3:4:5:6:7:8:9:x", "1:2:3:4:5:6:7:8:9:-1"} {
		if _, err := ParsePoint(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestMemoryStore: one point per interval, merged from every flush in it,
// trimmed to the window; the realtime figures are the last sample's.
func TestMemoryStore(t *testing.T) {
	m := NewMeter()
	store := NewMemory(2*time.Second, 6*time.Second)
	clock := time.Unix(1700000001, 0)
	f := &Flusher{Meter: m, Store: store, Instance: "a",
		Online: func(context.Context) (int, error) { return 2, nil }, Now: func() time.Time { return clock }}
	f.prevAt = clock
	ctx := context.Background()
	for range 3 {
		m.Opened()
	}
	for i := range 10 {
		clock = clock.Add(time.Second)
		m.Sent(true, 1, 100)
		if i%2 == 0 {
			m.In(APIMessages, 1, 7)
		}
		f.Flush(ctx)
	}
	rt, _ := store.Realtime(ctx)
	if rt["websocket:bytes_out_total"] != "1000" || rt["websocket:bytes_out_per_sec"] != "100" ||
		rt["connections"] != "3" || rt["online_users"] != "2" || rt["instance:a:connections"] != "3" {
		t.Fatalf("realtime %v", rt)
	}
	pts, _ := store.Series(ctx, TotalSeries, time.Time{})
	if len(pts) != 3 {
		t.Fatalf("want the window's 3 points, got %+v", pts)
	}
	for i, p := range pts {
		if i > 0 && p.At.Sub(pts[i-1].At) != 2*time.Second {
			t.Fatalf("not one point per interval: %+v", pts)
		}
		if p.BytesOut != 200 || p.Online != 2 {
			t.Fatalf("point %+v", p)
		}
	}
	api, _ := store.Series(ctx, "api-messages", pts[1].At)
	if len(api) != 2 || api[0].BytesIn != 7 {
		t.Fatalf("api series %+v", api)
	}
}

func TestMeterIsACollector(t *testing.T) {
	m := NewMeter()
	m.Out(Static, 1, 42)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		for _, x := range mf.GetMetric() {
			if mf.GetName() == "bandwidth_bytes_total" && x.GetLabel()[0].GetValue() == "out" &&
				x.GetLabel()[1].GetValue() == "static" && x.GetCounter().GetValue() == 42 {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("no bandwidth_bytes_total{endpoint=static,direction=out} 42 in %v", mfs)
	}
}

func TestLatencyQuantiles(t *testing.T) {
	m := NewMeter()
	for range 98 {
		m.Delivered(3 * time.Millisecond) // (2.5, 5] ms
	}
	m.Delivered(300 * time.Millisecond) // (250, 500] ms
	m.Delivered(10 * time.Second)       // +Inf
	d := m.Totals().Delivery
	if d.Count() != 100 {
		t.Fatalf("count %d", d.Count())
	}
	if p50 := d.Quantile(0.5); p50 <= 2500*time.Microsecond || p50 > 5*time.Millisecond {
		t.Fatalf("p50 %v", p50)
	}
	if p99 := d.Quantile(0.99); p99 <= 250*time.Millisecond || p99 > 500*time.Millisecond {
		t.Fatalf("p99 %v", p99)
	}
	if max := d.Quantile(0.999); max != 5*time.Second {
		t.Fatalf("beyond the last bound: %v", max)
	}
	if (Latency{}).Quantile(0.5) != 0 {
		t.Fatal("empty")
	}
}
