package socketio

import (
	"bytes"
	"testing"
)

var validPackets = []struct {
	in  string
	out packet
}{
	{`0`, packet{typ: typeConnect, nsp: "/", id: -1}},
	{`0{"token":"abc"}`, packet{typ: typeConnect, nsp: "/", id: -1, data: []byte(`{"token":"abc"}`)}},
	{`0/admin,`, packet{typ: typeConnect, nsp: "/admin", id: -1}},
	{`0/admin,{"a":[1,2]}`, packet{typ: typeConnect, nsp: "/admin", id: -1, data: []byte(`{"a":[1,2]}`)}},
	{`0/admin`, packet{typ: typeConnect, nsp: "/admin", id: -1}},
	{`1`, packet{typ: typeDisconnect, nsp: "/", id: -1}},
	{`1/admin,`, packet{typ: typeDisconnect, nsp: "/admin", id: -1}},
	{`2["hello"]`, packet{typ: typeEvent, nsp: "/", id: -1, data: []byte(`["hello"]`)}},
	{`2["hello",1,{"a":"b"}]`, packet{typ: typeEvent, nsp: "/", id: -1, data: []byte(`["hello",1,{"a":"b"}]`)}},
	{`212["hello"]`, packet{typ: typeEvent, nsp: "/", id: 12, data: []byte(`["hello"]`)}},
	{`2/chat,["hi"]`, packet{typ: typeEvent, nsp: "/chat", id: -1, data: []byte(`["hi"]`)}},
	{`2/chat,0["hi"]`, packet{typ: typeEvent, nsp: "/chat", id: 0, data: []byte(`["hi"]`)}},
	{`2/chat,9223372036854775807["hi"]`, packet{typ: typeEvent, nsp: "/chat", id: 1<<63 - 1, data: []byte(`["hi"]`)}},
	{`3/chat,7[]`, packet{typ: typeAck, nsp: "/chat", id: 7, data: []byte(`[]`)}},
	{`31["ok",null]`, packet{typ: typeAck, nsp: "/", id: 1, data: []byte(`["ok",null]`)}},
	{`51-["file",{"_placeholder":true,"num":0}]`, packet{typ: typeBinaryEvent, nsp: "/", id: -1, attachments: 1, data: []byte(`["file",{"_placeholder":true,"num":0}]`)}},
	{`52-/up,3["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, packet{typ: typeBinaryEvent, nsp: "/up", id: 3, attachments: 2, data: []byte(`["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)}},
	{`564-["max"]`, packet{typ: typeBinaryEvent, nsp: "/", id: -1, attachments: 64, data: []byte(`["max"]`)}},
	{`50-["none"]`, packet{typ: typeBinaryEvent, nsp: "/", id: -1, attachments: 0, data: []byte(`["none"]`)}},
	{`61-5[{"_placeholder":true,"num":0}]`, packet{typ: typeBinaryAck, nsp: "/", id: 5, attachments: 1, data: []byte(`[{"_placeholder":true,"num":0}]`)}},
	{`61-/up,5[]`, packet{typ: typeBinaryAck, nsp: "/up", id: 5, attachments: 1, data: []byte(`[]`)}},
}

func TestDecodePacket(t *testing.T) {
	for _, tc := range validPackets {
		p, err := decodePacket([]byte(tc.in))
		if err != nil || !samePacket(p, tc.out) {
			t.Errorf("decodePacket(%s) = %+v, %v; want %+v", tc.in, p, err, tc.out)
		}
	}
}

func TestDecodePacketErrors(t *testing.T) {
	for _, bad := range []string{
		``, `7`, `a`, `-1`, `/`,
		`0[`, `0[]`, `0"auth"`, `0 {}`, `0/admin,[1]`,
		`1{}`, `1/admin,{}`, `1["x"]`,
		`2`, `2{}`, `2[]`, `2[1]`, `2[null]`, `2["a"`, `2"a"`, `2/chat`, `2/chat,`, `2/chat,12`,
		`299999999999999999999["a"]`,
		`3["x"]`, `3`, `31`, `31{}`, `3/chat,["x"]`,
		`4{"message":"x"}`, `4/admin,{"message":"x"}`,
		`5["a"]`, `5-["a"]`, `5x-["a"]`, `51["a"]`, `5100-["a"]`, `565-["a"]`, `5-1-["a"]`, `51-`, `51-[]`,
		`6["a"]`, `61-["a"]`, `61-/x,[]`,
		"2[\"a\"]\x00", `2["a"] trailing`,
	} {
		if p, err := decodePacket([]byte(bad)); err == nil {
			t.Errorf("decodePacket(%s) = %+v, want an error", bad, p)
		}
	}
}

func samePacket(a, b packet) bool {
	return a.typ == b.typ && a.nsp == b.nsp && a.id == b.id && a.attachments == b.attachments &&
		bytes.Equal(a.data, b.data) && (a.data == nil) == (b.data == nil)
}

func TestPacketRoundTrip(t *testing.T) {
	for _, tc := range validPackets {
		p := tc.out
		enc := appendPacket(nil, p.typ, p.nsp, p.attachments, p.id, p.data)
		again, err := decodePacket(enc)
		if err != nil || !samePacket(again, p) {
			t.Errorf("%+v encodes to %s, which decodes to %+v, %v", p, enc, again, err)
		}
	}
	// The main namespace is implicit, "" included.
	if got := string(appendPacket(nil, typeEvent, "", 0, -1, []byte(`["x"]`))); got != `2["x"]` {
		t.Fatalf("empty namespace: %s", got)
	}
}

func TestEncodeEventPacket(t *testing.T) {
	for _, tc := range []struct {
		nsp   string
		id    int64
		args  []any
		want  string
		atts  int
		event string
	}{
		{"/", -1, nil, `2["e"]`, 0, "e"},
		{"/", -1, []any{1, "two", map[string]int{"three": 3}}, `2["e",1,"two",{"three":3}]`, 0, "e"},
		{"/chat", 4, []any{true}, `2/chat,4["e",true]`, 0, "e"},
		{"/", -1, []any{[]byte{1, 2}}, `51-["e",{"_placeholder":true,"num":0}]`, 1, "e"},
		{"/up", 9, []any{[]any{"x", []byte{1}}, []byte{2}}, `52-/up,9["e",["x",{"_placeholder":true,"num":0}],{"_placeholder":true,"num":1}]`, 2, "e"},
		{"/", -1, []any{map[string]any{"file": []byte{1}}}, `51-["e",{"file":{"_placeholder":true,"num":0}}]`, 1, "e"},
		{"/", -1, []any{rawJSON(`{"pre":"encoded"}`)}, `2["e",{"pre":"encoded"}]`, 0, "e"},
		{"/", -1, []any{"quote\"and<html>"}, `2["e","quote\"and\u003chtml\u003e"]`, 0, "e"},
	} {
		pkt, att, err := encodeEvent(tc.nsp, tc.event, tc.id, tc.args)
		if err != nil || string(pkt) != tc.want || len(att) != tc.atts {
			t.Errorf("encodeEvent(%v) = %s, %d attachments, %v; want %s", tc.args, pkt, len(att), err, tc.want)
			continue
		}
		// What the server encodes, it decodes.
		if p, err := decodePacket(pkt); err != nil || p.attachments != tc.atts || p.id != tc.id {
			t.Errorf("%s decodes to %+v, %v", pkt, p, err)
		}
	}
	for _, bad := range [][]any{{rawJSON(`{bad`)}, {make(chan int)}, {func() {}}} {
		if _, _, err := encodeEvent("/", "e", -1, bad); err == nil {
			t.Errorf("encodeEvent(%v): no error", bad)
		}
	}
}

func TestConnectErrorPacket(t *testing.T) {
	for _, tc := range []struct {
		nsp  string
		err  *ConnectError
		want string
	}{
		{"/", &ConnectError{Message: "Invalid namespace"}, `4{"message":"Invalid namespace"}`},
		{"/admin", &ConnectError{Message: "unauthorized", Data: map[string]string{"hint": "token"}}, `4/admin,{"message":"unauthorized","data":{"hint":"token"}}`},
		{"/a", &ConnectError{Message: `"quoted"`, Data: 42}, `4/a,{"message":"\"quoted\"","data":42}`},
	} {
		if got := string(connectError(tc.nsp, tc.err)); got != tc.want {
			t.Errorf("connectError = %s, want %s", got, tc.want)
		}
	}
}

func FuzzDecodePacket(f *testing.F) {
	for _, tc := range validPackets {
		f.Add([]byte(tc.in))
	}
	for _, s := range []string{"", "5-", "2/,1[\"a\"]", "0/a{}", "3 1[]", "299999999999999999999[\"a\"]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePacket(b)
		if err != nil {
			return
		}
		if p.typ > typeBinaryAck || p.attachments < 0 || p.attachments > maxAttachments || p.nsp == "" || p.nsp[0] != '/' {
			t.Fatalf("decodePacket(%q) = %+v", b, p)
		}
		// What decodes encodes back to a packet that decodes alike.
		enc := appendPacket(nil, p.typ, p.nsp, p.attachments, p.id, p.data)
		again, err := decodePacket(enc)
		if err != nil || !samePacket(again, p) {
			t.Fatalf("decodePacket(%q) = %+v; encoded %q decodes to %+v, %v", b, p, enc, again, err)
		}
	})
}

// An event's array is decoded once, by decodePacket: its name and the
// rest, which the handler gets as they are; an ack's array whole.
func TestDecodePacketSplitsTheArray(t *testing.T) {
	p, err := decodePacket([]byte(`22["chat:message",{"content":"hi"},3]`))
	if err != nil || p.name != "chat:message" || len(p.args) != 2 || string(p.args[0]) != `{"content":"hi"}` || string(p.args[1]) != "3" {
		t.Fatalf("event: %+v, %v", p, err)
	}
	p, err = decodePacket([]byte(`31["ok",null]`))
	if err != nil || p.name != "" || len(p.args) != 2 || string(p.args[0]) != `"ok"` || string(p.args[1]) != "null" {
		t.Fatalf("ack: %+v, %v", p, err)
	}
}
