package chat

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/globalchat/globalchat"
)

// MaxContent is the longest message, in characters, after trimming.
const MaxContent = 2000

// maxClientMsgID bounds the client's idempotency key.
const maxClientMsgID = 64

// incoming is the payload of chat:message.
type incoming struct {
	Content     *string `json:"content"`
	ClientMsgID string  `json:"clientMsgId"`
}

// parseMessage validates a chat:message payload: an object whose content
// is 1-2000 characters of valid UTF-8 after trimming, with no control
// character but newline (and tab).
func parseMessage(args []json.RawMessage) (content, clientMsgID string, err error) {
	if len(args) == 0 || len(args[0]) == 0 || args[0][0] != '{' {
		return "", "", globalchat.Errorf(globalchat.CodeInvalid, "payload must be an object {content, clientMsgId?}")
	}
	var in incoming
	if err := json.Unmarshal(args[0], &in); err != nil || in.Content == nil {
		return "", "", globalchat.Errorf(globalchat.CodeInvalid, "payload must be an object with a string content")
	}
	if !utf8.ValidString(*in.Content) || strings.ContainsRune(*in.Content, utf8.RuneError) {
		return "", "", globalchat.Errorf(globalchat.CodeInvalid, "content must be valid UTF-8")
	}
	content = strings.TrimSpace(*in.Content)
	n := utf8.RuneCountInString(content)
	if n == 0 || n > MaxContent {
		return "", "", globalchat.Errorf(globalchat.CodeInvalid, "content must be 1-%d characters", MaxContent)
	}
	for _, r := range content {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", "", globalchat.Errorf(globalchat.CodeInvalid, "content must not contain control characters")
		}
	}
	if len(in.ClientMsgID) > maxClientMsgID {
		return "", "", globalchat.Errorf(globalchat.CodeInvalid, "clientMsgId must be at most %d bytes", maxClientMsgID)
	}
	return content, in.ClientMsgID, nil
}
