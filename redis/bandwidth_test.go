package redis

import (
	"context"
	"testing"
	"time"

	"github.com/globalchat/globalchat/bandwidth"
	"github.com/globalchat/globalchat/internal/testenv"
)

// TestBandwidthAggregates: two instances flush into one Redis; the
// realtime hash sums their contributions, the series hold one point per
// interval, trimmed to the window, and every key has a TTL.
func TestBandwidthAggregates(t *testing.T) {
	srv := testenv.Redis(t)
	c := client(t, srv)
	ctx := context.Background()
	store := NewBandwidth(c, time.Second, 3*time.Second)
	base := time.Now().Truncate(time.Second)
	for i := range 6 {
		for j, id := range []string{"a", "b"} {
			var tot bandwidth.Totals
			tot.Endpoints[bandwidth.WebSocket] = bandwidth.Traffic{BytesIn: uint64(10 * (i + 1)), BytesOut: uint64(100 * (i + 1)), FramesIn: 1, FramesOut: 1}
			s := bandwidth.Sample{Instance: id, At: base.Add(time.Duration(i) * time.Second), Elapsed: time.Second,
				Totals: tot, Connections: j + 1, Online: 3}
			s.Delta.Endpoints[bandwidth.WebSocket] = bandwidth.Traffic{BytesIn: 10, BytesOut: 100}
			if err := store.Flush(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	rt, err := store.Realtime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"instances": "2", "websocket:bytes_in_total": "120", "websocket:bytes_out_total": "1200",
		"bytes_out_per_sec": "200", "connections": "3", "online_users": "3",
		"instance:a:connections": "1", "instance:b:connections": "2",
	}
	for k, v := range want {
		if rt[k] != v {
			t.Errorf("%s = %q, want %q (%v)", k, rt[k], v, rt)
		}
	}
	pts, err := store.Series(ctx, "websocket", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 4 { // the window's 3 seconds and the current one
		t.Fatalf("points %+v", pts)
	}
	for i, p := range pts {
		if p.BytesOut != 200 || (i > 0 && p.At.Sub(pts[i-1].At) != time.Second) {
			t.Fatalf("points %+v", pts)
		}
	}
	keys, _ := c.Keys(ctx, "bandwidth:*").Result()
	if len(keys) < 5 {
		t.Fatalf("keys %v", keys)
	}
	for _, k := range keys {
		if ttl, _ := c.PTTL(ctx, k).Result(); ttl <= 0 {
			t.Errorf("%s has no TTL (%v)", k, ttl)
		}
	}
	m, _ := c.HGetAll(ctx, keyBandwidthMetric(base.Add(5*time.Second).Unix(), "websocket")).Result()
	if m["bytes_out"] != "200" || m["online_users"] != "0" {
		t.Fatalf("metric %v", m)
	}
}

// TestBandwidthDeadInstanceAgesOut: a contribution older than the max age
// leaves the aggregate at the next flush of any instance.
func TestBandwidthDeadInstanceAgesOut(t *testing.T) {
	c := client(t, testenv.Redis(t))
	ctx := context.Background()
	store := NewBandwidth(c, time.Second, time.Minute)
	now := time.Now()
	flush := func(id string, at time.Time) {
		if err := store.Flush(ctx, bandwidth.Sample{Instance: id, At: at, Elapsed: time.Second, Connections: 5, Online: -1}); err != nil {
			t.Fatal(err)
		}
	}
	flush("dead", now.Add(-BandwidthMaxAge-time.Second))
	flush("live", now)
	rt, _ := store.Realtime(ctx)
	if rt["instances"] != "1" || rt["connections"] != "5" || rt["instance:dead:connections"] != "" {
		t.Fatalf("%v", rt)
	}
}
