package socketio

import (
	"encoding/json"
	"fmt"
)

// placeholder stands for a binary attachment inside a packet's JSON.
type placeholder struct {
	Placeholder bool `json:"_placeholder"`
	Num         int  `json:"num"`
}

// encodeArgs appends args as a JSON array, first item head when not empty.
// []byte values, also inside []any and map[string]any, become attachments.
func encodeArgs(buf []byte, head string, args []any) ([]byte, [][]byte, error) {
	var attachments [][]byte
	buf = append(buf, '[')
	if head != "" {
		b, _ := json.Marshal(head)
		buf = append(buf, b...)
	}
	for i, a := range args {
		if i > 0 || head != "" {
			buf = append(buf, ',')
		}
		if raw, ok := a.(json.RawMessage); ok {
			if !json.Valid(raw) {
				return nil, nil, fmt.Errorf("socketio: argument %d is not valid JSON", i)
			}
			buf = append(buf, raw...)
			continue
		}
		a = extractBinary(a, &attachments)
		b, err := json.Marshal(a)
		if err != nil {
			return nil, nil, fmt.Errorf("socketio: argument %d: %w", i, err)
		}
		buf = append(buf, b...)
	}
	return append(buf, ']'), attachments, nil
}

// extractBinary replaces the []byte in v by placeholders, collecting them.
// Only plain []any and map[string]any are walked: structs carry no binary.
func extractBinary(v any, out *[][]byte) any {
	switch t := v.(type) {
	case []byte:
		*out = append(*out, t)
		return placeholder{true, len(*out) - 1}
	case []any:
		c := make([]any, len(t))
		for i := range t {
			c[i] = extractBinary(t[i], out)
		}
		return c
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, x := range t {
			c[k] = extractBinary(x, out)
		}
		return c
	}
	return v
}

// insertBinary replaces placeholders in a decoded JSON value by their
// attachments.
func insertBinary(v any, attachments [][]byte) (any, error) {
	switch t := v.(type) {
	case []any:
		for i := range t {
			x, err := insertBinary(t[i], attachments)
			if err != nil {
				return nil, err
			}
			t[i] = x
		}
	case map[string]any:
		if p, ok := t["_placeholder"].(bool); ok && p {
			n, ok := t["num"].(float64)
			if !ok || n < 0 || int(n) >= len(attachments) || float64(int(n)) != n {
				return nil, errBadPacket
			}
			return attachments[int(n)], nil
		}
		for k := range t {
			x, err := insertBinary(t[k], attachments)
			if err != nil {
				return nil, err
			}
			t[k] = x
		}
	}
	return v, nil
}
