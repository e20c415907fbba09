package redis

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat/bandwidth"
)

// The reference design's bandwidth keys (named as it names them, without
// the global-chat: prefix, so that its operators' HGETALL works), and the
// two that hold the instances' contributions.
const (
	keyBandwidthRealtime  = "bandwidth:realtime"
	keyBandwidthInstances = "bandwidth:instances"
	keyBandwidthSeen      = "bandwidth:instances:seen"
)

func keyBandwidthSeries(series string) string { return "bandwidth:timeseries:" + series }

func keyBandwidthMetric(t int64, series string) string {
	return "bandwidth:metric:" + strconv.FormatInt(t, 10) + ":" + series
}

// Bounds of the bandwidth keys.
const (
	// BandwidthMaxAge: an instance that has not flushed for this long
	// leaves the realtime aggregate; the aggregate and the contributions
	// expire after it too.
	BandwidthMaxAge = time.Minute
	// BandwidthMetricTTL is the life of a bandwidth:metric:* key.
	BandwidthMetricTTL = 2 * time.Minute
)

var bandwidthFlush = loadScript("bandwidth_flush")

// Bandwidth is the bandwidth.Store of a cluster: every instance flushes
// into the same keys, which hold the cluster's figures.
type Bandwidth struct {
	client           *goredis.Client
	interval, window time.Duration
}

var _ bandwidth.Store = (*Bandwidth)(nil)

// NewBandwidth keeps points of interval (whole seconds, at least one) for
// window.
func NewBandwidth(client *goredis.Client, interval, window time.Duration) *Bandwidth {
	interval = max(interval.Truncate(time.Second), time.Second)
	return &Bandwidth{client: client, interval: interval, window: max(window, interval)}
}

// Flush implements bandwidth.Store: one script run.
func (b *Bandwidth) Flush(ctx context.Context, s bandwidth.Sample) error {
	contrib := make(map[string]int64)
	for _, f := range s.Fields() {
		contrib[f.Name] = f.Value
	}
	js, err := json.Marshal(contrib)
	if err != nil {
		return err
	}
	t := s.At.Truncate(b.interval).Unix()
	keys := []string{keyBandwidthRealtime, keyBandwidthInstances, keyBandwidthSeen}
	args := []any{s.Instance, s.At.UnixMilli(), js, BandwidthMaxAge.Milliseconds(), BandwidthMaxAge.Milliseconds(),
		t, int64(b.window.Seconds()), (b.window + 2*b.interval).Milliseconds(), BandwidthMetricTTL.Milliseconds()}
	points := s.Points()
	names := make([]string, 0, len(points))
	for name := range points {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		keys = append(keys, keyBandwidthSeries(name), keyBandwidthMetric(t, name))
		args = append(args, points[name].Counts())
	}
	return bandwidthFlush.Run(ctx, b.client, keys, args...).Err()
}

// Realtime implements bandwidth.Store: HGETALL bandwidth:realtime.
func (b *Bandwidth) Realtime(ctx context.Context) (map[string]string, error) {
	return b.client.HGetAll(ctx, keyBandwidthRealtime).Result()
}

// Series implements bandwidth.Store.
func (b *Bandwidth) Series(ctx context.Context, series string, since time.Time) ([]bandwidth.Point, error) {
	//lint:ignore SA1019 ZRANGEBYSCORE runs on every Redis; ZRANGE BYSCORE needs 6.2
	members, err := b.client.ZRangeByScore(ctx, keyBandwidthSeries(series), &goredis.ZRangeBy{
		Min: strconv.FormatInt(since.Truncate(b.interval).Unix(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]bandwidth.Point, 0, len(members))
	for _, m := range members {
		p, err := bandwidth.ParsePoint(m)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
