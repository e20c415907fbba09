package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/globalchat/globalchat"
)

// statusOf maps error codes to HTTP statuses.
var statusOf = map[globalchat.Code]int{
	globalchat.CodeBadRequest:   http.StatusBadRequest,
	globalchat.CodeInvalid:      http.StatusBadRequest,
	globalchat.CodeNotFound:     http.StatusNotFound,
	globalchat.CodeRateLimited:  http.StatusTooManyRequests,
	globalchat.CodeUnavailable:  http.StatusServiceUnavailable,
	globalchat.CodeInternal:     http.StatusInternalServerError,
	globalchat.CodeUnauthorized: http.StatusUnauthorized,
}

type errorResponse struct {
	Error struct {
		Code    globalchat.Code `json:"code"`
		Message string          `json:"message"`
	} `json:"error"`
}

// writeError answers {error: {code, message}} with the code's status.
func writeError(w http.ResponseWriter, err error) {
	var body errorResponse
	body.Error.Code = globalchat.ErrorCode(err)
	body.Error.Message = globalchat.ErrorMessage(err)
	status, ok := statusOf[body.Error.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
