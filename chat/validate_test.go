package chat

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/globalchat/globalchat"
)

func TestParseMessage(t *testing.T) {
	ok := map[string]string{
		`{"content":"hi"}`:                                "hi",
		`{"content":"  padded  "}`:                        "padded",
		`{"content":"two\nlines\ttab"}`:                   "two\nlines\ttab",
		`{"content":"` + strings.Repeat("é", 2000) + `"}`: strings.Repeat("é", 2000),
	}
	for in, want := range ok {
		got, _, err := parseMessage([]json.RawMessage{json.RawMessage(in)})
		if err != nil || got != want {
			t.Errorf("%s: %q %v", in[:min(len(in), 40)], got, err)
		}
	}
	bad := []string{`{"content":""}`, `{"content":"   "}`, `{"content":"` + strings.Repeat("a", 2001) + `"}`,
		`{"content":"a\u0000b"}`, `{"content":"\ud800"}`, `{"content":1}`, `{}`, `"text"`, `[1]`, `null`,
		`{"content":"x","clientMsgId":"` + strings.Repeat("k", 65) + `"}`}
	for _, in := range bad {
		_, _, err := parseMessage([]json.RawMessage{json.RawMessage(in)})
		if globalchat.ErrorCode(err) != globalchat.CodeInvalid {
			t.Errorf("%s: got %v, want invalid_message", in[:min(len(in), 40)], err)
		}
	}
	if _, _, err := parseMessage(nil); globalchat.ErrorCode(err) != globalchat.CodeInvalid {
		t.Errorf("no argument: %v", err)
	}
}
