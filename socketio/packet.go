package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Socket.IO packet types.
const (
	typeConnect      byte = 0
	typeDisconnect   byte = 1
	typeEvent        byte = 2
	typeAck          byte = 3
	typeConnectError byte = 4
	typeBinaryEvent  byte = 5
	typeBinaryAck    byte = 6
)

// maxAttachments bounds the binary attachments of one packet.
const maxAttachments = 64

var errBadPacket = errors.New("socketio: invalid packet")

// packet is one Socket.IO packet. id is -1 when the packet has none; data
// is its raw JSON, nil when absent. An EVENT's or ACK's array is decoded
// once, here: name is an event's name, args the rest of its array (all of
// an ack's), each a copy of its bytes.
type packet struct {
	typ         byte
	nsp         string
	id          int64
	data        []byte
	attachments int
	name        string
	args        []json.RawMessage
}

// decodePacket parses the text form: type, [attachments "-"], ["/nsp,"],
// [id], [JSON].
func decodePacket(b []byte) (packet, error) {
	p := packet{nsp: "/", id: -1}
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return p, errBadPacket
	}
	p.typ = b[0] - '0'
	b = b[1:]
	if p.typ == typeBinaryEvent || p.typ == typeBinaryAck {
		i := bytes.IndexByte(b, '-')
		if i <= 0 || i > 3 {
			return p, errBadPacket
		}
		n, err := strconv.Atoi(string(b[:i]))
		if err != nil || n < 0 || n > maxAttachments {
			return p, errBadPacket
		}
		p.attachments = n
		b = b[i+1:]
	}
	if len(b) > 0 && b[0] == '/' {
		i := bytes.IndexByte(b, ',')
		if i < 0 {
			i = len(b)
		}
		p.nsp = string(b[:i])
		b = b[min(i+1, len(b)):]
	}
	digits := 0
	for digits < len(b) && b[digits] >= '0' && b[digits] <= '9' {
		digits++
	}
	if digits > 0 {
		id, err := strconv.ParseInt(string(b[:digits]), 10, 64)
		if err != nil {
			return p, errBadPacket
		}
		p.id = id
		b = b[digits:]
	}
	if len(b) > 0 {
		p.data = b
	}
	return p, p.validate()
}

// validate checks the payload each type must carry.
func (p *packet) validate() error {
	switch p.typ {
	case typeConnect:
		if p.data != nil && (p.data[0] != '{' || !json.Valid(p.data)) {
			return errBadPacket
		}
	case typeDisconnect:
		if p.data != nil {
			return errBadPacket
		}
	case typeEvent, typeBinaryEvent:
		if len(p.data) < 2 || p.data[0] != '[' || json.Unmarshal(p.data, &p.args) != nil {
			return errBadPacket
		}
		name, err := eventName(p.args)
		if err != nil {
			return err
		}
		p.name, p.args = name, p.args[1:]
	case typeAck, typeBinaryAck:
		if p.id < 0 || len(p.data) < 2 || p.data[0] != '[' || json.Unmarshal(p.data, &p.args) != nil {
			return errBadPacket
		}
	case typeConnectError:
		// Only servers send it.
		return errBadPacket
	}
	return nil
}

// eventName returns the first element of an event's array, a string.
func eventName(head []json.RawMessage) (string, error) {
	if len(head) == 0 || len(head[0]) == 0 {
		return "", errBadPacket
	}
	var name string
	// A string, not null (which would decode into "" without an error).
	if head[0][0] != '"' || json.Unmarshal(head[0], &name) != nil {
		return "", errBadPacket
	}
	return name, nil
}

// appendPacket appends the text form of a packet whose data is already
// encoded.
func appendPacket(buf []byte, typ byte, nsp string, attachments int, id int64, data []byte) []byte {
	buf = append(buf, '0'+typ)
	if typ == typeBinaryEvent || typ == typeBinaryAck {
		buf = strconv.AppendInt(buf, int64(attachments), 10)
		buf = append(buf, '-')
	}
	if nsp != "/" && nsp != "" {
		buf = append(buf, nsp...)
		buf = append(buf, ',')
	}
	if id >= 0 {
		buf = strconv.AppendInt(buf, id, 10)
	}
	return append(buf, data...)
}
