package chat

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// MinGuestSecret is the shortest guest signing secret, in bytes.
const MinGuestSecret = 16

// A guest's identity is a random id that only the guest holds, in a
// token the server signs: "g1.<id>.<mac>". What everyone sees, the user
// id, is a one-way hash of the id, so reading a user's messages, the
// history or the online list gives no way to speak as them, and a client
// cannot make up an id of its own (it would need the key). Every
// instance shares the key (GUEST_SECRET, or one kept in the message
// database), so a second tab, a reconnect and another instance all know
// the guest by the same token.
const (
	guestTokenPrefix = "g1."
	guestIDBytes     = 16
	// guestUserIDBytes of the hash make the public id: 120 bits.
	guestUserIDBytes = 15
	guestUserPrefix  = "guest:"
)

var b64 = base64.RawURLEncoding

// errBadGuestToken is what a client sending a token this server did not
// sign (or from before a key change) is told; it should connect without
// one to get a new identity.
var errBadGuestToken = errors.New("invalid guest token")

// Guests issues and checks guest tokens.
type Guests struct {
	key []byte
}

// NewGuests returns the guest token authority for a signing key of at
// least MinGuestSecret bytes.
func NewGuests(key []byte) (*Guests, error) {
	if len(key) < MinGuestSecret {
		return nil, errors.New("chat: the guest signing key must be at least 16 bytes")
	}
	return &Guests{key: append([]byte(nil), key...)}, nil
}

// Issue returns a new guest's token and user id.
func (g *Guests) Issue() (token, userID string) {
	var id [guestIDBytes]byte
	rand.Read(id[:])
	return guestTokenPrefix + b64.EncodeToString(id[:]) + "." + b64.EncodeToString(g.mac(id[:])), guestUserID(id[:])
}

// Verify returns the user id of a token this server's key signed.
func (g *Guests) Verify(token string) (userID string, err error) {
	rest, ok := strings.CutPrefix(token, guestTokenPrefix)
	if !ok || len(token) > 128 {
		return "", errBadGuestToken
	}
	idPart, macPart, ok := strings.Cut(rest, ".")
	if !ok {
		return "", errBadGuestToken
	}
	id, err1 := b64.DecodeString(idPart)
	mac, err2 := b64.DecodeString(macPart)
	if err1 != nil || err2 != nil || len(id) != guestIDBytes || !hmac.Equal(mac, g.mac(id)) {
		return "", errBadGuestToken
	}
	return guestUserID(id), nil
}

func (g *Guests) mac(id []byte) []byte {
	h := hmac.New(sha256.New, g.key)
	h.Write([]byte("globalchat guest token\x00"))
	h.Write(id)
	return h.Sum(nil)
}

// guestUserID is the public id of a guest: a hash of the secret id.
func guestUserID(id []byte) string {
	h := sha256.New()
	h.Write([]byte("globalchat guest user id\x00"))
	h.Write(id)
	return guestUserPrefix + b64.EncodeToString(h.Sum(nil)[:guestUserIDBytes])
}
