package socketio

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/globalchat/globalchat/internal/logsample"
	"github.com/globalchat/globalchat/socketio/engineio"
	"github.com/vmihailenco/msgpack/v5"
)

// RefusedParser is the reason of the refusal of a client that encodes its
// packets with another parser than socket.io's default (JSON) one:
// socket.io-msgpack-parser's binary CONNECT, say.
const RefusedParser = "unsupported parser"

// The refusals of the attachment bounds (Options.MaxAttachments and
// MaxAttachmentBytes): the connection is closed.
const (
	RefusedAttachments     = "too many attachments"
	RefusedAttachmentBytes = "attachments too big"
)

// parserRefusal is the connect_error message such a client gets.
const parserRefusal = "unsupported parser: this server speaks the default socket.io parser (JSON) only"

// maxForeignPacket bounds the packet decoded to find out which parser sent
// it: a CONNECT, even with a large auth payload, fits.
const maxForeignPacket = 4096

// refusals counts and logs the clients refused for speaking what the
// server does not, the Engine.IO layer's and the parser's alike: a metric
// by reason, and a log line per reason and client address at most once
// an interval (the rest counted into a summary), so that a client
// retrying for ever costs no log flood.
type refusals struct {
	metrics *metrics
	log     *logsample.Sampler
}

// report records one refusal.
func (r *refusals) report(ref engineio.Refusal) {
	r.metrics.refusals.WithLabelValues(ref.Reason).Inc()
	// The sampler adds the reason as "kind" and the address as "key".
	r.log.Log(context.Background(), slog.LevelInfo, ref.Reason, ref.Addr, "socketio: client refused",
		slog.String("detail", ref.Detail))
}

// msgpackPacket is a msgpack-encoded Socket.IO packet, in the form
// socket.io-msgpack-parser decodes it.
type msgpackPacket struct {
	Type *int           `msgpack:"type"`
	Nsp  string         `msgpack:"nsp"`
	Data map[string]any `msgpack:"data,omitempty"`
}

// msgpackNamespace reports whether data, a binary message that no packet
// announced, is a msgpack-encoded packet, and its namespace.
func msgpackNamespace(data []byte) (string, bool) {
	if len(data) == 0 || len(data) > maxForeignPacket {
		return "", false
	}
	if b := data[0]; b&0xf0 != 0x80 && b != 0xde && b != 0xdf { // a map
		return "", false
	}
	// Only the head is decoded: the data, skipped, may hold extension
	// types (notepack.io encodes undefined as one).
	var p struct {
		Type *int   `msgpack:"type"`
		Nsp  string `msgpack:"nsp"`
	}
	if err := msgpack.NewDecoder(bytes.NewReader(data)).Decode(&p); err != nil || p.Type == nil {
		return "", false
	}
	if p.Nsp == "" {
		p.Nsp = "/"
	}
	return p.Nsp, true
}

// msgpackConnectError encodes a CONNECT_ERROR as socket.io-msgpack-parser
// decodes it, so that its client reports connect_error with our message
// and, as after any refusal, does not reconnect by itself.
func msgpackConnectError(nsp, message string) []byte {
	typ := typeConnectError
	b, _ := msgpack.Marshal(msgpackPacket{Type: new(int(typ)), Nsp: nsp, Data: map[string]any{"message": message}})
	return b
}
