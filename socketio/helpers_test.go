package socketio_test

import (
	"encoding/json"
	"errors"

	"github.com/globalchat/globalchat/socketio"
)

func jsonArg(e *socketio.Event, v any) error {
	if len(e.Args) == 0 {
		return errors.New("no argument")
	}
	return json.Unmarshal(e.Args[0], v)
}

func unmarshal(raw json.RawMessage, v any) error {
	if raw == nil {
		return errors.New("absent")
	}
	return json.Unmarshal(raw, v)
}
