package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/globalchat/globalchat"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/text/unicode/norm"
)

// MaxUsername is the longest name, in characters, after normalizing and
// trimming.
const MaxUsername = 32

// jwtLeeway is the clock skew tolerated on exp, nbf and iat.
const jwtLeeway = 5 * time.Second

// Authenticator turns a CONNECT auth payload into a user: a signed JWT
// when a secret is set, a guest otherwise.
type Authenticator struct {
	secret []byte
	guests *Guests
}

// NewAuthenticator returns an authenticator: JWT mode when jwtSecret is
// set, guest mode otherwise, with guests issuing and checking the guest
// tokens (needed in guest mode only).
func NewAuthenticator(jwtSecret string, guests *Guests) *Authenticator {
	return &Authenticator{secret: []byte(jwtSecret), guests: guests}
}

// JWT reports whether tokens are required.
func (a *Authenticator) JWT() bool { return len(a.secret) > 0 }

// Identity is who a connection authenticated as.
type Identity struct {
	User globalchat.User
	// GuestToken is the token of a guest the server has just made up: the
	// client must keep it and send it next time to stay the same user.
	GuestToken string
	// Expires is the JWT's expiry; zero for a guest.
	Expires time.Time
}

// authPayload is the CONNECT auth the clients send. A guestId (the
// credential of old clients, published as part of their user id) is not
// read: such a client becomes a new guest.
type authPayload struct {
	Token      string `json:"token"`
	Username   string `json:"username"`
	GuestToken string `json:"guestToken"`
}

// Authenticate checks the auth payload. Its errors are messages for the
// client.
func (a *Authenticator) Authenticate(raw json.RawMessage) (Identity, error) {
	var p authPayload
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			return Identity{}, errors.New("auth must be an object")
		}
	}
	if a.JWT() {
		return a.token(p.Token)
	}
	return a.guest(p)
}

// claims are what a token must carry: sub is the user id, name the
// username, exp its end; all strictly typed (exp a number).
type claims struct {
	Name string `json:"name"`
	jwt.RegisteredClaims
}

// UnmarshalJSON refuses times that are not JSON numbers: the library
// would take "exp": "1700000000", a string, as well.
func (c *claims) UnmarshalJSON(b []byte) error {
	var times struct {
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(b, &times); err != nil {
		return err
	}
	for _, t := range []json.RawMessage{times.Exp, times.Nbf, times.Iat} {
		if len(t) > 0 && (t[0] < '0' || t[0] > '9') {
			return errors.New("exp, nbf and iat must be numbers")
		}
	}
	type plain claims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

func (a *Authenticator) token(tok string) (Identity, error) {
	if tok == "" {
		return Identity{}, errors.New("token required")
	}
	var c claims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return a.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithLeeway(jwtLeeway), jwt.WithIssuedAt())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Identity{}, errors.New("token expired")
	case err != nil:
		return Identity{}, errors.New("invalid token")
	}
	name, err := cleanName(c.Name)
	if err != nil || c.Subject == "" || len(c.Subject) > 128 {
		return Identity{}, errors.New("token must carry sub and a valid name")
	}
	return Identity{User: globalchat.User{ID: c.Subject, Name: name}, Expires: c.ExpiresAt.Time}, nil
}

func (a *Authenticator) guest(p authPayload) (Identity, error) {
	name, err := cleanName(p.Username)
	if err != nil {
		return Identity{}, err
	}
	if a.guests == nil {
		return Identity{}, errors.New("guests are not accepted")
	}
	if p.GuestToken == "" {
		tok, id := a.guests.Issue()
		return Identity{User: globalchat.User{ID: id, Name: name}, GuestToken: tok}, nil
	}
	id, err := a.guests.Verify(p.GuestToken)
	if err != nil {
		return Identity{}, err
	}
	return Identity{User: globalchat.User{ID: id, Name: name}}, nil
}

// cleanName normalizes a username (NFC), trims what does not show at its
// ends, and checks it is 1-32 printable characters of which at least one
// is visible: names made of blanks that pass for letters (U+3164 Hangul
// filler, U+2800 braille blank, ...) are refused.
func cleanName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("username must be valid UTF-8")
	}
	s = strings.TrimFunc(norm.NFC.String(s), invisible)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxUsername {
		return "", fmt.Errorf("username must be 1-%d characters", MaxUsername)
	}
	shows := false
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", errors.New("username must contain visible characters only")
		}
		shows = shows || visible(r)
	}
	if !shows {
		return "", errors.New("username must contain a visible character")
	}
	return s, nil
}

// invisible reports a character that shows nothing by itself: spaces,
// format characters, default-ignorable code points (Hangul fillers, ...),
// variation selectors and the blank braille pattern.
func invisible(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r) || r == '\u2800'
}

// visible reports a character that shows on its own: a letter, number,
// punctuation or symbol that is not invisible (a mark needs a base).
func visible(r rune) bool {
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) && !invisible(r)
}

// Authorize checks an HTTP request to the chat's API: in JWT mode it must
// carry "Authorization: Bearer <token>" with a token Authenticate would
// accept; in guest mode everything public is open. Its errors are
// messages for the client.
func (a *Authenticator) Authorize(r *http.Request) error {
	if !a.JWT() {
		return nil
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return errors.New("token required: send Authorization: Bearer <token>")
	}
	_, err := a.token(strings.TrimSpace(tok))
	return err
}
