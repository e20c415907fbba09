package engineio

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
}

// noTraffic counts nothing: the default.
type noTraffic struct{}

func (noTraffic) Received(bool, int, int) {}
func (noTraffic) Sent(bool, int, int)     {}
func (noTraffic) Opened()                 {}
func (noTraffic) Closed()                 {}

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

// sentWebSocket counts frames written to a WebSocket.
func (c *Conn) sentWebSocket(frames []frame) {
	packets, bytes := wsPayload(frames)
	c.srv.opts.Traffic.Sent(true, packets, bytes)
}
