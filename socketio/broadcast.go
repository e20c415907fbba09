package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"time"
)

// publishTimeout bounds handing a broadcast to the adapter, and
// recoveryTimeout a call to the session store or the replayer.
const (
	publishTimeout  = 5 * time.Second
	recoveryTimeout = 5 * time.Second
)

// BroadcastOperator selects the sockets of a broadcast. Its methods return
// a modified copy, so an operator can be kept and reused.
type BroadcastOperator struct {
	nsp    *Namespace
	rooms  []string
	except []string
	local  bool
	offset string
	key    string
}

// To returns an operator that targets the sockets in any of rooms.
func (n *Namespace) To(rooms ...string) BroadcastOperator {
	return BroadcastOperator{nsp: n}.To(rooms...)
}

// Emit sends an event to every socket of the namespace, on every instance.
func (n *Namespace) Emit(event string, args ...any) error {
	return BroadcastOperator{nsp: n}.Emit(event, args...)
}

// To adds rooms to the target.
func (b BroadcastOperator) To(rooms ...string) BroadcastOperator {
	b.rooms = append(b.rooms[:len(b.rooms):len(b.rooms)], rooms...)
	return b
}

// Except excludes the sockets in any of rooms.
func (b BroadcastOperator) Except(rooms ...string) BroadcastOperator {
	b.except = append(b.except[:len(b.except):len(b.except)], rooms...)
	return b
}

// Local keeps the broadcast on this instance.
func (b BroadcastOperator) Local() BroadcastOperator {
	b.local = true
	return b
}

// WithOffset gives the broadcast its recovery offset: it is appended as
// the last argument, and a client that recovers presents the last one it
// got. Used with an application Replayer, which understands its offsets.
func (b BroadcastOperator) WithOffset(offset string) BroadcastOperator {
	b.offset = offset
	return b
}

// WithKey names a broadcast that carries no offset, or one it shares with
// another, by the offset a replay would give it: a socket that recovers
// while it is on its way then drops it when the replay already had it,
// as it drops a replayed offset. The client never sees the key; the
// adapter carries it to the other instances (Broadcast.Key).
func (b BroadcastOperator) WithKey(key string) BroadcastOperator {
	b.key = key
	return b
}

// Emit encodes the event once and sends the same bytes to every targeted
// socket, here and, unless Local, on the other instances.
func (b BroadcastOperator) Emit(event string, args ...any) error {
	srv := b.nsp.srv
	offset := b.offset
	if offset == "" && srv.memLog != nil {
		offset = srv.nextOffset()
	}
	if offset != "" {
		args = append(args[:len(args):len(args)], offset)
	}
	pkt, att, err := encodeEvent(b.nsp.name, event, -1, args)
	if err != nil {
		return err
	}
	msg := Broadcast{Namespace: b.nsp.name, Rooms: b.rooms, Except: b.except, Packet: pkt, Attachments: att,
		Emitted: time.Now().UnixNano(), offset: offset, offsetKnown: true, Key: b.key}
	srv.metrics.broadcasts.Inc()
	if srv.memLog != nil && offset != "" {
		srv.memLog.append(offset, msg)
	}
	b.nsp.deliver(msg)
	if b.local {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	return srv.adapter.Publish(ctx, msg)
}

// EncodeBroadcast encodes an event as a broadcast of namespace nsp, the way
// Emit would, with offset as its last argument when not empty: what a
// Replayer returns.
func EncodeBroadcast(nsp, offset, event string, args ...any) (Broadcast, error) {
	if offset != "" {
		args = append(args[:len(args):len(args)], offset)
	}
	pkt, att, err := encodeEvent(nsp, event, -1, args)
	return Broadcast{Namespace: nsp, Packet: pkt, Attachments: att, offset: offset, offsetKnown: true}, err
}

// offsetOf returns the offset of an encoded event: its last argument when
// that is a string, as the official client reads it.
func offsetOf(pkt []byte) string {
	p, err := decodePacket(pkt)
	if err != nil || len(p.args) == 0 {
		return ""
	}
	last := bytes.TrimSpace(p.args[len(p.args)-1])
	var s string
	if len(last) == 0 || last[0] != '"' || json.Unmarshal(last, &s) != nil {
		return ""
	}
	return s
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// quoted returns names as JSON strings, as they appear in packets.
func quoted(names []string) [][]byte {
	out := make([][]byte, 0, len(names))
	for _, n := range names {
		q, _ := json.Marshal(n)
		out = append(out, q)
	}
	return out
}

// isLazy reports whether pkt is an EVENT named in LazyEvents: its
// arguments' array starts with that name. Binary events never are.
func (s *Server) isLazy(pkt []byte) bool {
	if len(s.lazy) == 0 || len(pkt) == 0 || pkt[0] != '0'+typeEvent {
		return false
	}
	i := bytes.IndexByte(pkt, '[')
	if i < 0 {
		return false
	}
	rest := pkt[i+1:]
	for _, name := range s.lazy {
		if len(rest) > len(name) && bytes.HasPrefix(rest, name) && (rest[len(name)] == ',' || rest[len(name)] == ']') {
			return true
		}
	}
	return false
}
