package engineio

import (
	"bytes"
	"testing"
)

func TestDecodePayload(t *testing.T) {
	got, err := decodePayload([]byte("4hello\x1ebAQIDBA==\x1e2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got[0].data) != "hello" || !got[1].binary ||
		!bytes.Equal(got[1].data, []byte{1, 2, 3, 4}) || got[2].typ != typePing {
		t.Fatalf("decoded %+v", got)
	}
	for _, bad := range []string{"", "abc", "4a\x1e", "b!!!", "9"} {
		if _, err := decodePayload([]byte(bad)); err == nil {
			t.Errorf("decodePayload(%q): no error", bad)
		}
	}
}

func TestAppendPayload(t *testing.T) {
	got := appendPayload(nil, []frame{{typ: typeMessage, data: []byte("hi")}, {typ: typeMessage, data: []byte{1, 2, 3, 4}, binary: true}, {typ: typePing}})
	if string(got) != "4hi\x1ebAQIDBA==\x1e2" {
		t.Fatalf("got %q", got)
	}
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4hello", "4a\x1ebAQID", "2probe", "b", "\x1e\x1e", "6"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := decodePayload(b)
		if err != nil {
			return
		}
		// What decodes must encode back to a payload that decodes alike.
		frames := make([]frame, len(ps))
		for i, p := range ps {
			frames[i] = frame{typ: p.typ, data: p.data, binary: p.binary}
		}
		again, err := decodePayload(appendPayload(nil, frames))
		if err != nil || len(again) != len(ps) {
			t.Fatalf("round trip of %q: %v %d", b, err, len(again))
		}
	})
}

func TestDecodeText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		typ  byte
		data string
	}{{"0", typeOpen, ""}, {"1", typeClose, ""}, {"2probe", typePing, "probe"}, {"3", typePong, ""}, {"4héllo", typeMessage, "héllo"}, {"5", typeUpgrade, ""}, {"6", typeNoop, ""}} {
		p, err := decodeText([]byte(tc.in))
		if err != nil || p.typ != tc.typ || string(p.data) != tc.data || p.binary {
			t.Errorf("decodeText(%q) = %+v, %v", tc.in, p, err)
		}
	}
	for _, bad := range []string{"", "7", "/", "b", "abc", "\x00"} {
		if _, err := decodeText([]byte(bad)); err == nil {
			t.Errorf("decodeText(%q): no error", bad)
		}
	}
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{"4hello", "2probe", "3", "", "7", "b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeText(b)
		if err != nil {
			return
		}
		// A text packet is its type byte and its data, nothing lost.
		if p.binary || len(p.data) != len(b)-1 || !bytes.Equal(appendPayload(nil, []frame{{typ: p.typ, data: p.data}}), b) {
			t.Fatalf("decodeText(%q) = %+v", b, p)
		}
	})
}
