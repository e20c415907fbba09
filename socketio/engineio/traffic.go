package engineio

import "time"

// Traffic counts what crosses a server's transports: Engine.IO payload
// bytes (a WebSocket message's payload, a polling request's or
// response's body) and packets, and connections opened and closed. Its
// methods are called concurrently on the hot path, once per read or
// write: they must be cheap (atomic adds).
type Traffic interface {
	Received(websocket bool, packets, bytes int)
	Sent(websocket bool, packets, bytes int)
	Opened()
	Closed()
	// Delivered gets, for each written message that had its Emitted
	// time, how long it took from then to the end of its write.
	Delivered(latency time.Duration)
}

// noTraffic counts nothing: the default.
type noTraffic struct{}

func (noTraffic) Received(bool, int, int) {}
func (noTraffic) Sent(bool, int, int)     {}
func (noTraffic) Opened()                 {}
func (noTraffic) Closed()                 {}
func (noTraffic) Delivered(time.Duration) {}

// wsPayload is what frames weigh as WebSocket message payloads; control
// frames (pong, close) carry no Engine.IO packet and weigh nothing.
func wsPayload(frames []frame) (packets, bytes int) {
	for _, f := range frames {
		switch {
		case f.binary:
			bytes += len(f.data)
		case f.typ == ctrlPong || f.typ == ctrlClose:
			continue
		default:
			bytes += len(f.data) + 1
		}
		packets++
	}
	return packets, bytes
}

// Queued returns the frames and bytes waiting in the outbound queues of
// every connection: read at scrape time, never on the hot path.
func (s *Server) Queued() (frames, bytes int) {
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		frames += len(c.out.frames)
		bytes += c.out.bytes
		c.mu.Unlock()
	}
	return frames, bytes
}

// sentWebSocket counts frames written to a WebSocket.
func (c *Conn) sentWebSocket(frames []frame) {
	packets, bytes := wsPayload(frames)
	c.srv.opts.Traffic.Sent(true, packets, bytes)
	c.delivered(frames)
}

// delivered reports the latency of the timed frames just written.
func (c *Conn) delivered(frames []frame) {
	var now int64
	for _, f := range frames {
		if f.emitted == 0 {
			continue
		}
		if now == 0 {
			now = time.Now().UnixNano()
		}
		c.srv.opts.Traffic.Delivered(time.Duration(now - f.emitted))
	}
}
