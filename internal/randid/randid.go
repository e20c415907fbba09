// Package randid makes the random ids of the protocol layers: Engine.IO
// session ids, Socket.IO socket and private session ids.
package randid

import (
	"crypto/rand"
	"encoding/base64"
)

// New returns a random id: 120 bits in 20 URL-safe characters, which no
// one can guess (a private session id is a credential).
func New() string {
	var b [15]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
