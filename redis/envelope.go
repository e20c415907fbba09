package redis

import (
	"encoding/binary"
	"errors"

	"github.com/globalchat/globalchat/socketio"
)

// The first byte of an encoded broadcast is its version. Anything on a
// socket.io# channel that does not parse (another version, or the Node
// adapter's msgpack) is skipped. A keyed broadcast (Broadcast.Key) is
// version 2, version 1 followed by its key; any other stays version 1, so
// that during a rolling deploy the instances of the old version, which
// skip version 2, still get every broadcast but the keyed ones.
const (
	envelopeVersion      = 0x01
	envelopeVersionKeyed = 0x02
)

var errBadEnvelope = errors.New("redis: malformed broadcast envelope")

// encodeEnvelope writes a broadcast and the id of the instance that sent
// it as: version byte, then instance, namespace, rooms, except, packet,
// attachments and (version 2) key, each string or byte slice as a uvarint
// length and its bytes, each list as a uvarint count and its items.
// Binary, so packets and attachments travel as they are, with no escaping.
func encodeEnvelope(instance string, b socketio.Broadcast) []byte {
	size := 1 + 6*binary.MaxVarintLen64 + len(instance) + len(b.Namespace) + len(b.Packet) + len(b.Key)
	for _, l := range [][]string{b.Rooms, b.Except} {
		for _, s := range l {
			size += binary.MaxVarintLen64 + len(s)
		}
	}
	for _, a := range b.Attachments {
		size += binary.MaxVarintLen64 + len(a)
	}
	version := byte(envelopeVersion)
	if b.Key != "" {
		version = envelopeVersionKeyed
	}
	out := make([]byte, 0, size)
	out = append(out, version)
	out = appendBytes(out, []byte(instance))
	out = appendBytes(out, []byte(b.Namespace))
	for _, l := range [][]string{b.Rooms, b.Except} {
		out = binary.AppendUvarint(out, uint64(len(l)))
		for _, s := range l {
			out = appendBytes(out, []byte(s))
		}
	}
	out = appendBytes(out, b.Packet)
	out = binary.AppendUvarint(out, uint64(len(b.Attachments)))
	for _, a := range b.Attachments {
		out = appendBytes(out, a)
	}
	if version == envelopeVersionKeyed {
		out = appendBytes(out, []byte(b.Key))
	}
	return out
}

func appendBytes(out, b []byte) []byte {
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

// decodeEnvelope reads what encodeEnvelope wrote; it never panics, and
// rejects trailing bytes.
func decodeEnvelope(data []byte) (instance string, b socketio.Broadcast, err error) {
	r := reader{data: data}
	version := r.byte()
	if version != envelopeVersion && version != envelopeVersionKeyed {
		return "", b, errBadEnvelope
	}
	instance = string(r.bytes())
	b.Namespace = string(r.bytes())
	b.Rooms = r.strings()
	b.Except = r.strings()
	b.Packet = r.bytes()
	if n := r.count(); n > 0 {
		b.Attachments = make([][]byte, 0, n)
		for range n {
			b.Attachments = append(b.Attachments, r.bytes())
		}
	}
	if version == envelopeVersionKeyed {
		b.Key = string(r.bytes())
	}
	if r.bad || len(r.data) != 0 {
		return "", socketio.Broadcast{}, errBadEnvelope
	}
	return instance, b, nil
}

// reader consumes an envelope; after the first error every read returns
// zero values and bad stays true.
type reader struct {
	data []byte
	bad  bool
}

func (r *reader) byte() byte {
	if r.bad || len(r.data) == 0 {
		r.bad = true
		return 0
	}
	c := r.data[0]
	r.data = r.data[1:]
	return c
}

// count reads a length or a count, which cannot exceed the bytes left
// (every item takes at least one byte), so a forged count cannot make
// the decoder allocate more than the input.
func (r *reader) count() int {
	if r.bad {
		return 0
	}
	n, k := binary.Uvarint(r.data)
	if k <= 0 || n > uint64(len(r.data)-k) {
		r.bad = true
		return 0
	}
	r.data = r.data[k:]
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.count()
	if r.bad {
		return nil
	}
	b := r.data[:n:n]
	r.data = r.data[n:]
	return b
}

func (r *reader) strings() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, string(r.bytes()))
	}
	return out
}
