package socketio

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }

func decodeJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestExtractInsertBinary(t *testing.T) {
	args := []any{
		[]byte{1},
		[]any{"x", []byte{2, 2}, []any{[]byte{3}}},
		map[string]any{"k": []byte{4}},
		"text",
		nil,
	}
	data, att, err := encodeArgs(nil, "", args)
	if err != nil {
		t.Fatal(err)
	}
	if len(att) != 4 {
		t.Fatalf("%d attachments in %s", len(att), data)
	}
	want := `[{"_placeholder":true,"num":0},["x",{"_placeholder":true,"num":1},[{"_placeholder":true,"num":2}]],{"k":{"_placeholder":true,"num":3}},"text",null]`
	if string(data) != want {
		t.Fatalf("encoded %s\nwant    %s", data, want)
	}
	back, err := insertBinary(decodeJSON(t, string(data)), att)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, args) {
		t.Fatalf("round trip: %#v", back)
	}
	// The caller's values are not modified.
	if _, ok := args[1].([]any)[1].([]byte); !ok {
		t.Fatal("encodeArgs replaced a []byte in its argument")
	}
}

func TestInsertBinaryErrors(t *testing.T) {
	att := [][]byte{{1}, {2}}
	for _, bad := range []string{
		`{"_placeholder":true,"num":2}`,
		`{"_placeholder":true,"num":-1}`,
		`{"_placeholder":true,"num":0.5}`,
		`{"_placeholder":true,"num":"0"}`,
		`{"_placeholder":true,"num":null}`,
		`{"_placeholder":true}`,
		`{"_placeholder":true,"num":1e300}`,
		`{"_placeholder":true,"num":-1e300}`,
		`{"_placeholder":true,"num":9223372036854775807}`,
		`{"_placeholder":true,"num":18446744073709551616}`,
		`[1,[2,{"a":{"_placeholder":true,"num":5}}]]`,
	} {
		if v, err := insertBinary(decodeJSON(t, bad), att); err == nil {
			t.Errorf("insertBinary(%s) = %v, want an error", bad, v)
		}
	}
	// Look-alikes are left as they are.
	for _, keep := range []string{`{"_placeholder":false,"num":0}`, `{"_placeholder":"true","num":0}`, `{"num":0}`, `"_placeholder"`, `7`} {
		v := decodeJSON(t, keep)
		got, err := insertBinary(v, att)
		if err != nil || !reflect.DeepEqual(got, decodeJSON(t, keep)) {
			t.Errorf("insertBinary(%s) = %v, %v", keep, got, err)
		}
	}
	if got, err := insertBinary(decodeJSON(t, `{"_placeholder":true,"num":1}`), att); err != nil || !bytes.Equal(got.([]byte), []byte{2}) {
		t.Errorf("valid placeholder: %v %v", got, err)
	}
}

func TestEventValues(t *testing.T) {
	e := &Event{
		Args:        []json.RawMessage{rawJSON(`"a"`), rawJSON(`{"f":{"_placeholder":true,"num":0}}`), rawJSON(`[1.5]`)},
		Attachments: [][]byte{{7, 7}},
	}
	got, err := e.Values()
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"a", map[string]any{"f": []byte{7, 7}}, []any{1.5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Values() = %#v", got)
	}
	e.Attachments = nil
	if _, err := e.Values(); err == nil {
		t.Fatal("a placeholder without its attachment: no error")
	}
	if err := (&Event{}).Ack(); err == nil {
		t.Fatal("Ack without an ack id: no error")
	}
}

func FuzzInsertBinary(f *testing.F) {
	for _, s := range []string{
		`[{"_placeholder":true,"num":0}]`,
		`{"a":[{"_placeholder":true,"num":1}],"b":{"_placeholder":true,"num":0}}`,
		`{"_placeholder":true,"num":1e300}`,
		`[1,"x",null,true,{"_placeholder":false}]`,
	} {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		att := make([][]byte, n%8)
		for i := range att {
			att[i] = []byte{byte(i), 0xff}
		}
		got, err := insertBinary(v, att)
		if err != nil {
			return
		}
		// A value with its binary back encodes to placeholders that
		// decode to the same value.
		enc, encAtt, err := encodeArgs(nil, "", []any{got})
		if err != nil {
			t.Fatalf("encodeArgs(%#v): %v", got, err)
		}
		var arr []any
		if err := json.Unmarshal(enc, &arr); err != nil || len(arr) != 1 {
			t.Fatalf("encoded %s: %v", enc, err)
		}
		again, err := insertBinary(arr[0], encAtt)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip of %s: %#v, %v; want %#v", data, again, err, got)
		}
	})
}
