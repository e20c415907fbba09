package globalchat

import (
	"errors"
	"fmt"
)

// Code classifies an error for clients: the chat maps it to ack error codes
// and httpapi to HTTP statuses, each in one place.
type Code string

// The error codes clients see.
const (
	CodeInvalid     Code = "invalid_message"
	CodeRateLimited Code = "rate_limited"
	CodeUnavailable Code = "unavailable"
	CodeBadRequest  Code = "bad_request"
	CodeNotFound    Code = "not_found"
	CodeInternal    Code = "internal"
	// CodeUnauthorized: a request without the credentials asked for (a
	// JWT in JWT mode, the admin token).
	CodeUnauthorized Code = "unauthorized"
)

// ErrUnavailable is wrapped by implementations when a dependency (database,
// Redis) cannot be reached.
var ErrUnavailable = errors.New("dependency unavailable")

// ErrOverloaded is wrapped, with ErrUnavailable, by a dependency that
// answers but refuses more work for now (a full spool): it is up, so
// nothing should fail over from it.
var ErrOverloaded = errors.New("dependency overloaded")

// ErrMovedBack is returned by a Sequencer's Append under an epoch that
// ended: another instance moved the cluster back to Redis.
var ErrMovedBack = errors.New("the cluster moved back to Redis")

// ErrConflict is wrapped by a store asked to save a message whose seq, or
// whose (user, client message id), another stored message holds: the
// sequencing went wrong somewhere, and saying so beats a silent success.
var ErrConflict = errors.New("conflict with a stored message")

// Error is an error with a code and a message safe to show to a client.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: its own for an *Error, unavailable for
// ErrUnavailable, internal otherwise.
func ErrorCode(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, ErrUnavailable):
		return CodeUnavailable
	default:
		return CodeInternal
	}
}

// ErrorMessage returns the message of err that is safe for a client.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Message
	case errors.Is(err, ErrUnavailable):
		return "the service is temporarily unavailable, try again"
	default:
		return "internal error"
	}
}
