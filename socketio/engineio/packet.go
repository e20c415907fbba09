package engineio

import (
	"bytes"
	"encoding/base64"
	"errors"
)

// Engine.IO packet types, as the byte that starts a text packet.
const (
	typeOpen    byte = '0'
	typeClose   byte = '1'
	typePing    byte = '2'
	typePong    byte = '3'
	typeMessage byte = '4'
	typeUpgrade byte = '5'
	typeNoop    byte = '6'
)

// separator splits the packets of an HTTP long-polling payload.
const separator = 0x1e

var errBadPacket = errors.New("engineio: invalid packet")

// packet is one decoded Engine.IO packet. For a message, data is its
// payload and binary tells whether it was sent as binary.
type packet struct {
	typ    byte
	data   []byte
	binary bool
}

// decodeText decodes a text packet (a WebSocket text frame, or one segment
// of a polling payload that is not base64 binary).
func decodeText(b []byte) (packet, error) {
	if len(b) == 0 || b[0] < typeOpen || b[0] > typeNoop {
		return packet{}, errBadPacket
	}
	return packet{typ: b[0], data: b[1:]}, nil
}

// decodePayload splits an HTTP long-polling payload into its packets.
// Binary messages come as "b" followed by base64.
func decodePayload(body []byte) ([]packet, error) {
	if len(body) == 0 {
		return nil, errBadPacket
	}
	segments := bytes.Split(body, []byte{separator})
	out := make([]packet, 0, len(segments))
	for _, seg := range segments {
		if len(seg) > 0 && seg[0] == 'b' {
			data := make([]byte, base64.StdEncoding.DecodedLen(len(seg)-1))
			n, err := base64.StdEncoding.Decode(data, seg[1:])
			if err != nil {
				return nil, errBadPacket
			}
			out = append(out, packet{typ: typeMessage, data: data[:n], binary: true})
			continue
		}
		p, err := decodeText(seg)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// frame is one outbound packet waiting in a connection's queue. data is
// shared between every recipient of a broadcast and never modified.
type frame struct {
	data    []byte
	emitted int64 // Message.Emitted
	typ     byte
	binary  bool
}

// size is what the frame weighs in the queue's byte bound.
func (f frame) size() int { return len(f.data) + 1 }

// appendPayload appends frames to buf as an HTTP long-polling payload.
func appendPayload(buf []byte, frames []frame) []byte {
	for i, f := range frames {
		if i > 0 {
			buf = append(buf, separator)
		}
		if f.binary {
			buf = append(buf, 'b')
			buf = base64.StdEncoding.AppendEncode(buf, f.data)
			continue
		}
		buf = append(buf, f.typ)
		buf = append(buf, f.data...)
	}
	return buf
}
