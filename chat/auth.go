package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/globalchat/globalchat"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// MaxUsername is the longest name, in characters, after trimming.
const MaxUsername = 32

// guestIDPattern is what a client-kept guest id may look like.
var guestIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// Authenticator turns a CONNECT auth payload into a user: a signed JWT
// when a secret is set, a guest name otherwise.
type Authenticator struct {
	secret []byte
}

// NewAuthenticator returns an authenticator; an empty secret means guest
// mode.
func NewAuthenticator(jwtSecret string) *Authenticator {
	return &Authenticator{secret: []byte(jwtSecret)}
}

// JWT reports whether tokens are required.
func (a *Authenticator) JWT() bool { return len(a.secret) > 0 }

// authPayload is the CONNECT auth the clients send.
type authPayload struct {
	Token    string `json:"token"`
	Username string `json:"username"`
	GuestID  string `json:"guestId"`
}

// Authenticate checks the auth payload. Its errors are messages for the
// client.
func (a *Authenticator) Authenticate(raw json.RawMessage) (globalchat.User, error) {
	var p authPayload
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			return globalchat.User{}, errors.New("auth must be an object")
		}
	}
	if a.JWT() {
		return a.token(p.Token)
	}
	return guest(p)
}

// claims are what a token must carry: sub is the user id, name the
// username.
type claims struct {
	Name string `json:"name"`
	jwt.RegisteredClaims
}

func (a *Authenticator) token(tok string) (globalchat.User, error) {
	if tok == "" {
		return globalchat.User{}, errors.New("token required")
	}
	var c claims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return a.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return globalchat.User{}, errors.New("token expired")
	case err != nil:
		return globalchat.User{}, errors.New("invalid token")
	}
	name, err := cleanName(c.Name)
	if err != nil || c.Subject == "" || len(c.Subject) > 128 {
		return globalchat.User{}, errors.New("token must carry sub and a valid name")
	}
	return globalchat.User{ID: c.Subject, Name: name}, nil
}

func guest(p authPayload) (globalchat.User, error) {
	name, err := cleanName(p.Username)
	if err != nil {
		return globalchat.User{}, err
	}
	id := p.GuestID
	if id == "" {
		id = uuid.NewString()
	} else if !guestIDPattern.MatchString(id) {
		return globalchat.User{}, errors.New("guestId must be 8-64 letters, digits, _ or -")
	}
	return globalchat.User{ID: "guest:" + id, Name: name}, nil
}

// cleanName trims a username and checks it is 1-32 visible characters.
func cleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxUsername || !utf8.ValidString(s) {
		return "", fmt.Errorf("username must be 1-%d characters", MaxUsername)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", errors.New("username must contain visible characters only")
		}
	}
	return s, nil
}
