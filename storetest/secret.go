package storetest

import (
	"bytes"
	"sync"
	"testing"

	"github.com/globalchat/globalchat"
)

// OpenSecrets returns two handles on one new, empty database (as two
// instances would open it), closed when the test ends.
type OpenSecrets func(t *testing.T) (a, b globalchat.SecretStore)

// RunSecrets runs the contract of globalchat.SecretStore: the first
// secret kept under a name is the one every caller gets, whoever races.
func RunSecrets(t *testing.T, open OpenSecrets) {
	t.Run("FirstKeptWins", func(t *testing.T) {
		a, b := open(t)
		got, err := a.Secret(ctx(t), "guest", []byte("first"))
		if err != nil || string(got) != "first" {
			t.Fatalf("first keep: %q %v", got, err)
		}
		got, err = b.Secret(ctx(t), "guest", []byte("second"))
		if err != nil || string(got) != "first" {
			t.Fatalf("second caller got %q %v, want the first secret", got, err)
		}
		other, err := b.Secret(ctx(t), "other", []byte("own"))
		if err != nil || string(other) != "own" {
			t.Fatalf("another name: %q %v", other, err)
		}
	})
	t.Run("RacingInstancesAgree", func(t *testing.T) {
		a, b := open(t)
		var wg sync.WaitGroup
		got := make([][]byte, 8)
		errs := make([]error, 8)
		for i := range got {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() { got[i], errs[i] = s.Secret(ctx(t), "race", []byte{byte('a' + i)}) })
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil || !bytes.Equal(got[i], got[0]) {
				t.Fatalf("caller %d got %q (%v), caller 0 %q", i, got[i], errs[i], got[0])
			}
		}
	})
	t.Run("EmptyFreshRefused", func(t *testing.T) {
		a, _ := open(t)
		if _, err := a.Secret(ctx(t), "guest", nil); err == nil {
			t.Fatal("an empty secret was kept")
		}
	})
}
