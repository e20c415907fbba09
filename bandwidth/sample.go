package bandwidth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// TotalSeries is the time series of everything an instance moved, with
// messages, connections and online users; the others are named after
// their endpoint.
const TotalSeries = "total"

// Store keeps what Flusher samples. Implementations: Memory (one
// instance) and redis.Bandwidth (the cluster). Errors are the backend's;
// a failed Flush loses that second's rates but no totals, which the next
// Flush carries.
type Store interface {
	// Flush records one instance's sample: its contribution to the
	// realtime aggregate and the sample's deltas in the time series.
	Flush(ctx context.Context, s Sample) error
	// Realtime returns the aggregate, field by field (see Sample.Fields).
	Realtime(ctx context.Context) (map[string]string, error)
	// Series returns the points of a series (TotalSeries or an endpoint
	// name) from since on, oldest first.
	Series(ctx context.Context, series string, since time.Time) ([]Point, error)
}

// Sample is one instance's accounting at one moment.
type Sample struct {
	Instance string
	At       time.Time
	Elapsed  time.Duration // since the previous sample
	Totals   Totals        // since the instance started
	Delta    Totals        // since the previous sample
	// Connections open on this instance now: opened less closed.
	Connections int
	// Online is the number of users online in the cluster; -1 unknown.
	Online int
}

// Field is one field of the realtime hash.
type Field struct {
	Name  string
	Value int64
}

// Fields are the instance's contribution to the realtime aggregate. Each
// is summed over the live instances, but online_users, which is already
// the cluster's, and the delivery_* quantiles of the last second, of
// which the aggregate keeps the highest (the slowest instance's).
func (s Sample) Fields() []Field {
	sec := s.Elapsed.Seconds()
	rate := func(n uint64) int64 {
		if sec <= 0 {
			return 0
		}
		return int64(math.Round(float64(n) / sec))
	}
	all := s.Delta.All()
	f := []Field{
		{"bytes_in_per_sec", rate(all.BytesIn)}, {"bytes_out_per_sec", rate(all.BytesOut)},
		{"frames_in_per_sec", rate(all.FramesIn)}, {"frames_out_per_sec", rate(all.FramesOut)},
		{"messages_in_per_sec", rate(s.Delta.MessagesIn)}, {"messages_out_per_sec", rate(s.Delta.MessagesOut)},
		{"messages_in_total", int64(s.Totals.MessagesIn)}, {"messages_out_total", int64(s.Totals.MessagesOut)},
		{"connections", int64(s.Connections)},
		{"connections_opened_total", int64(s.Totals.ConnsOpened)}, {"connections_closed_total", int64(s.Totals.ConnsClosed)},
		{"instance:" + s.Instance + ":connections", int64(s.Connections)},
		{"deliveries_per_sec", rate(s.Delta.Delivery.Count())},
		{"delivery_p50_ms", s.Delta.Delivery.Quantile(0.5).Milliseconds()},
		{"delivery_p99_ms", s.Delta.Delivery.Quantile(0.99).Milliseconds()},
	}
	if s.Online >= 0 {
		f = append(f, Field{OnlineField, int64(s.Online)})
	}
	for i, t := range s.Totals.Endpoints {
		ep := Endpoint(i).String() + ":"
		d := s.Delta.Endpoints[i]
		f = append(f,
			Field{ep + "bytes_in_total", int64(t.BytesIn)}, Field{ep + "bytes_out_total", int64(t.BytesOut)},
			Field{ep + "frames_in_total", int64(t.FramesIn)}, Field{ep + "frames_out_total", int64(t.FramesOut)},
			Field{ep + "bytes_in_per_sec", rate(d.BytesIn)}, Field{ep + "bytes_out_per_sec", rate(d.BytesOut)})
	}
	return f
}

// OnlineField is the realtime field of the users online, the one field
// not summed over instances.
const OnlineField = "online_users"

// Point is one interval of a time series.
type Point struct {
	At time.Time // the interval's start
	Traffic
	MessagesIn, MessagesOut  uint64
	ConnsOpened, ConnsClosed uint64
	// Online is the most users online seen in the interval.
	Online uint64
}

// Points returns the sample's deltas by series: the total, always, and
// each endpoint that moved.
func (s Sample) Points() map[string]Point {
	out := map[string]Point{TotalSeries: {
		Traffic: s.Delta.All(), MessagesIn: s.Delta.MessagesIn, MessagesOut: s.Delta.MessagesOut,
		ConnsOpened: s.Delta.ConnsOpened, ConnsClosed: s.Delta.ConnsClosed, Online: uint64(max(s.Online, 0)),
	}}
	for i, t := range s.Delta.Endpoints {
		if t != (Traffic{}) {
			out[Endpoint(i).String()] = Point{Traffic: t}
		}
	}
	return out
}

// merge adds q's counts to p's; Online keeps the higher.
func (p Point) merge(q Point) Point {
	p.Traffic = p.Traffic.add(q.Traffic)
	p.MessagesIn += q.MessagesIn
	p.MessagesOut += q.MessagesOut
	p.ConnsOpened += q.ConnsOpened
	p.ConnsClosed += q.ConnsClosed
	p.Online = max(p.Online, q.Online)
	return p
}

// Counts encodes the point's figures as the Lua script merges them:
// bytes in:out, frames in:out, messages in:out, connections opened:closed,
// online (each colon-separated).
func (p Point) Counts() string {
	return fmt.Sprintf("%d:%d:%d:%d:%d:%d:%d:%d:%d", p.BytesIn, p.BytesOut, p.FramesIn, p.FramesOut,
		p.MessagesIn, p.MessagesOut, p.ConnsOpened, p.ConnsClosed, p.Online)
}

// ParsePoint decodes a time series member: the interval's start in unix
// seconds, a colon, then Counts.
func ParsePoint(member string) (Point, error) {
	parts := strings.Split(member, ":")
	if len(parts) != 10 {
		return Point{}, errors.New("bandwidth: malformed point " + strconv.Quote(member))
	}
	var n [10]uint64
	for i, s := range parts {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Point{}, errors.New("bandwidth: malformed point " + strconv.Quote(member))
		}
		n[i] = v
	}
	return Point{
		At:      time.Unix(int64(n[0]), 0),
		Traffic: Traffic{n[1], n[2], n[3], n[4]}, MessagesIn: n[5], MessagesOut: n[6],
		ConnsOpened: n[7], ConnsClosed: n[8], Online: n[9],
	}, nil
}
