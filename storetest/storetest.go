// Package storetest is the shared test suite of globalchat.MessageStore:
// every implementation runs it from its own tests, so that SQLite and
// MySQL keep the same contract.
//
// It imports the domain package and no implementation.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
)

// Open returns a new, empty store for one subtest. Run closes it when the
// subtest ends; Close must tolerate being called twice, in case the
// implementation's own cleanup closes it too.
type Open func(t *testing.T) globalchat.MessageStore

// Run runs the contract of globalchat.MessageStore against stores made by
// open, each subtest on a store of its own.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, globalchat.MessageStore)
	}{
		{"SaveAndRead", testSaveAndRead},
		{"SaveNothing", testSaveNothing},
		{"SaveIsIdempotent", testSaveIsIdempotent},
		{"Before", testBefore},
		{"After", testAfter},
		{"BadLimit", testBadLimit},
		{"LastSeq", testLastSeq},
		{"ConcurrentSaves", testConcurrentSaves},
		{"ContentRoundTrips", testContentRoundTrips},
		{"CreatedAtRoundTrips", testCreatedAtRoundTrips},
		{"ClientMsgID", testClientMsgID},
		{"Ping", testPing},
		{"CancelledSave", testCancelledSave},
		{"SaveAfterClose", testSaveAfterClose},
		{"SeqConflict", testSeqConflict},
		{"ClientMsgIDConflict", testClientMsgIDConflict},
		{"Append", testAppend},
		{"Fence", testFence},
		{"Return", testReturn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tt.fn(t, s)
		})
	}
}

// ctx returns a context that ends with the test, bounded so that a hung
// store fails the test instead of stalling the run.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// base is a fixed instant with sub-millisecond digits, in a zone that is
// not UTC, so that the conversions are exercised.
var base = time.Date(2024, 5, 17, 10, 30, 0, 123_456_789, time.FixedZone("UTC+7", 7*3600))

// msg returns a valid message with the given seq.
func msg(seq int64) globalchat.Message {
	return globalchat.Message{
		ID:        fmt.Sprintf("msg-%06d", seq),
		Seq:       seq,
		UserID:    fmt.Sprintf("user-%d", seq%7),
		Username:  fmt.Sprintf("User %d", seq%7),
		Content:   fmt.Sprintf("message number %d", seq),
		CreatedAt: base.Add(time.Duration(seq) * time.Second),
	}
}

// msgs returns messages for the given seqs.
func msgs(seqs ...int64) []globalchat.Message {
	out := make([]globalchat.Message, len(seqs))
	for i, s := range seqs {
		out[i] = msg(s)
	}
	return out
}

// stored is what a store gives back for m: its time in UTC, to the
// millisecond.
func stored(m globalchat.Message) globalchat.Message {
	m.CreatedAt = m.CreatedAt.Truncate(time.Millisecond).UTC()
	return m
}

func save(t *testing.T, s globalchat.MessageStore, ms ...globalchat.Message) {
	t.Helper()
	if err := s.Save(ctx(t), ms...); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

// check compares got with the stored form of want, field by field.
func check(t *testing.T, what string, got, want []globalchat.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d messages (seqs %v), want %d (seqs %v)", what, len(got), seqs(got), len(want), seqs(want))
	}
	for i := range want {
		w := stored(want[i])
		g := got[i]
		if !g.CreatedAt.Equal(w.CreatedAt) || g.CreatedAt.Location() != time.UTC {
			t.Errorf("%s[%d].CreatedAt = %v, want %v (UTC, ms)", what, i, g.CreatedAt, w.CreatedAt)
		}
		g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
		}
	}
}

func seqs(ms []globalchat.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func before(t *testing.T, s globalchat.MessageStore, seq int64, limit int) []globalchat.Message {
	t.Helper()
	got, err := s.Before(ctx(t), seq, limit)
	if err != nil {
		t.Fatalf("Before(%d, %d): %v", seq, limit, err)
	}
	return got
}

func after(t *testing.T, s globalchat.MessageStore, seq int64, limit int) []globalchat.Message {
	t.Helper()
	got, err := s.After(ctx(t), seq, limit)
	if err != nil {
		t.Fatalf("After(%d, %d): %v", seq, limit, err)
	}
	return got
}

func testSaveAndRead(t *testing.T, s globalchat.MessageStore) {
	want := msgs(1, 2, 3)
	save(t, s, want...)
	check(t, "After(0)", after(t, s, 0, 10), want)
	check(t, "Before(0)", before(t, s, 0, 10), want)
}

func testSaveNothing(t *testing.T, s globalchat.MessageStore) {
	save(t, s)
	check(t, "After(0)", after(t, s, 0, 10), nil)
}

func testSaveIsIdempotent(t *testing.T, s globalchat.MessageStore) {
	save(t, s, msgs(1, 2)...)
	again := msg(2)
	again.Content = "a retry must not replace the first copy"
	save(t, s, again, msg(3))
	save(t, s, msg(4), msg(4)) // twice in one call
	check(t, "After(0)", after(t, s, 0, 10), msgs(1, 2, 3, 4))
}

func testBefore(t *testing.T, s globalchat.MessageStore) {
	// Seqs with gaps: a store must not assume they are contiguous.
	save(t, s, msgs(10, 20, 30, 40, 50, 60, 70)...)
	check(t, "Before(0, 3)", before(t, s, 0, 3), msgs(50, 60, 70))
	check(t, "Before(-1, 2)", before(t, s, -1, 2), msgs(60, 70))
	check(t, "Before(70, 3)", before(t, s, 70, 3), msgs(40, 50, 60))
	check(t, "Before(45, 10)", before(t, s, 45, 10), msgs(10, 20, 30, 40))
	check(t, "Before(10, 5)", before(t, s, 10, 5), nil)
	check(t, "Before(1000, 1)", before(t, s, 1000, 1), msgs(70))
}

func testAfter(t *testing.T, s globalchat.MessageStore) {
	save(t, s, msgs(10, 20, 30, 40, 50)...)
	check(t, "After(0, 2)", after(t, s, 0, 2), msgs(10, 20))
	check(t, "After(-5, 1)", after(t, s, -5, 1), msgs(10))
	check(t, "After(20, 10)", after(t, s, 20, 10), msgs(30, 40, 50))
	check(t, "After(25, 2)", after(t, s, 25, 2), msgs(30, 40))
	check(t, "After(50, 5)", after(t, s, 50, 5), nil)
}

func testBadLimit(t *testing.T, s globalchat.MessageStore) {
	save(t, s, msgs(1, 2)...)
	for _, limit := range []int{0, -1} {
		check(t, fmt.Sprintf("Before(0, %d)", limit), before(t, s, 0, limit), nil)
		check(t, fmt.Sprintf("After(0, %d)", limit), after(t, s, 0, limit), nil)
	}
}

func testLastSeq(t *testing.T, s globalchat.MessageStore) {
	lastSeq := func() int64 {
		t.Helper()
		n, err := s.LastSeq(ctx(t))
		if err != nil {
			t.Fatalf("LastSeq: %v", err)
		}
		return n
	}
	if n := lastSeq(); n != 0 {
		t.Fatalf("LastSeq of an empty store = %d, want 0", n)
	}
	save(t, s, msgs(5, 3, 9, 7)...)
	if n := lastSeq(); n != 9 {
		t.Fatalf("LastSeq = %d, want 9", n)
	}
}

func testConcurrentSaves(t *testing.T, s globalchat.MessageStore) {
	const writers, each = 40, 5
	c := ctx(t)
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				seq := int64(w*each + i + 1)
				// Every message is also saved by a second writer, as a
				// retry racing the first attempt would be.
				dup := int64((w+1)%writers*each + i + 1)
				errs <- s.Save(c, msg(seq), msg(dup))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Save: %v", err)
		}
	}
	all := make([]int64, writers*each)
	for i := range all {
		all[i] = int64(i + 1)
	}
	check(t, "After(0)", after(t, s, 0, 1000), msgs(all...))
}

func testContentRoundTrips(t *testing.T, s globalchat.MessageStore) {
	contents := []string{
		"plain ascii",
		"Xin chào thế giới, Grüße, こんにちは, привет, مرحبا",
		"emoji 😀🎉👍🏽👨‍👩‍👧‍👦 and a flag 🇻🇳",
		"line one\nline two\r\nline three\ttabbed",
		`<img src=x onerror=alert(1)>`,
		`'quotes' "double" \backslash\ ; DROP TABLE messages; --`,
		"percent % underscore _ and a NUL-free \x7f delete",
		strings.Repeat("é", 1000) + strings.Repeat("😀", 500) + strings.Repeat("a", 500), // 2000 chars
		strings.Repeat("x", 2000),
	}
	var want []globalchat.Message
	for i, c := range contents {
		m := msg(int64(i + 1))
		m.Content = c
		m.Username = "Ngọc 🌸"
		want = append(want, m)
	}
	save(t, s, want...)
	check(t, "After(0)", after(t, s, 0, 100), want)
}

func testCreatedAtRoundTrips(t *testing.T, s globalchat.MessageStore) {
	times := []time.Time{
		base,
		time.Date(2030, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2001, 1, 1, 0, 0, 0, 1_000_000, time.FixedZone("UTC-9:30", -(9*3600+1800))),
		time.Now(),
	}
	var want []globalchat.Message
	for i, ts := range times {
		m := msg(int64(i + 1))
		m.CreatedAt = ts
		want = append(want, m)
	}
	save(t, s, want...)
	check(t, "After(0)", after(t, s, 0, 100), want)
}

func testClientMsgID(t *testing.T, s globalchat.MessageStore) {
	with := msg(1)
	with.ClientMsgID = "c-7f3a9e2b-1d4c"
	without := msg(2)
	save(t, s, with, without)
	got := after(t, s, 0, 10)
	check(t, "After(0)", got, []globalchat.Message{with, without})
}

func testPing(t *testing.T, s globalchat.MessageStore) {
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testCancelledSave(t *testing.T, s globalchat.MessageStore) {
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	if err := s.Save(c, msg(1)); err == nil {
		t.Fatal("Save with a cancelled context returned nil")
	}
	// The store stays usable.
	save(t, s, msg(2))
	got := after(t, s, 0, 10)
	if len(got) == 0 || got[len(got)-1].Seq != 2 {
		t.Fatalf("After(0) = seqs %v, want them to end with 2", seqs(got))
	}
}

func testSaveAfterClose(t *testing.T, s globalchat.MessageStore) {
	save(t, s, msg(1))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Save(ctx(t), msg(2)); err == nil {
		t.Fatal("Save after Close returned nil")
	}
}

// testSeqConflict: a seq held by another message is an error, never a
// silent success, in a batch of one or with others.
func testSeqConflict(t *testing.T, s globalchat.MessageStore) {
	save(t, s, msgs(1, 2)...)
	other := msg(2)
	other.ID = "another-message"
	for _, batch := range [][]globalchat.Message{{other}, {msg(3), other}} {
		if err := s.Save(ctx(t), batch...); !errors.Is(err, globalchat.ErrConflict) {
			t.Fatalf("Save of another message with a taken seq: %v, want ErrConflict", err)
		}
	}
	check(t, "After(0)", after(t, s, 0, 10), msgs(1, 2, 3))
}

// testClientMsgIDConflict: one message per (user, client id), whatever
// its id and seq; the same client id from another user is another message.
func testClientMsgIDConflict(t *testing.T, s globalchat.MessageStore) {
	first := msg(1)
	first.ClientMsgID = "c-1"
	save(t, s, first)
	retry := msg(8) // same user as msg(1): 8 % 7 == 1
	retry.ID, retry.ClientMsgID = "retry-with-a-new-id", "c-1"
	if err := s.Save(ctx(t), retry); !errors.Is(err, globalchat.ErrConflict) {
		t.Fatalf("Save of a second message with one client id: %v, want ErrConflict", err)
	}
	otherUser := msg(2)
	otherUser.ClientMsgID = "c-1"
	save(t, s, otherUser)
	check(t, "After(0)", after(t, s, 0, 10), []globalchat.Message{first, otherUser})
}

// testAppend: a store that is a Sequencer numbers appends after every
// stored seq, in order; an append of a stored message (by id, or by user
// and client id, stored before or earlier in the same call) returns the
// stored one and takes no seq.
func testAppend(t *testing.T, s globalchat.MessageStore) {
	seq, ok := s.(globalchat.Sequencer)
	if !ok {
		t.Skip("not a Sequencer") // a contract that does not apply, not a missing service
	}
	save(t, s, msgs(1, 2)...)
	_, epoch, err := seq.Fence(ctx(t), 0) // what Redis handed out is behind the counter now
	if err != nil {
		t.Fatalf("Fence: %v", err)
	}
	a, b := msg(0), msg(0)
	a.ID, a.ClientMsgID = "appended", "c-a"
	b.ID = "appended-b"
	retryInBatch := a
	retryInBatch.ID = "a-retry-in-the-same-call"
	got, err := seq.Append(ctx(t), epoch, a, retryInBatch, b)
	if err != nil || len(got) != 3 {
		t.Fatalf("Append: %v, %v", got, err)
	}
	if got[0].Seq != 3 || got[0].Duplicate || got[1].ID != "appended" || !got[1].Duplicate || got[2].Seq != 4 {
		t.Fatalf("Append = %+v; want 3 new, the first again as a duplicate, 4 new", got)
	}
	retry := a
	retry.ID = "a-retry-of-appended"
	stored := msg(2)
	again, err := seq.Append(ctx(t), epoch, retry, stored)
	if err != nil || again[0].ID != "appended" || !again[0].Duplicate || again[1].Seq != 2 || !again[1].Duplicate {
		t.Fatalf("Append of stored messages = %+v, %v; want the stored ones, duplicates", again, err)
	}
	c := msg(0)
	c.ID = "appended-c"
	if got, err := seq.Append(ctx(t), epoch, c); err != nil || got[0].Seq != 5 {
		t.Fatalf("next Append = %+v, %v; want seq 5 (duplicates take no seq)", got, err)
	}
	// Saving what the store numbered is idempotent.
	saved := got[0].Message
	saved.CreatedAt = saved.CreatedAt.Truncate(time.Millisecond)
	save(t, s, saved)
}

// testFence: Fence raises the counter, never lowers it, and never leaves
// it at or below a stored seq.
func testFence(t *testing.T, s globalchat.MessageStore) {
	seq, ok := s.(globalchat.Sequencer)
	if !ok {
		t.Skip("not a Sequencer")
	}
	save(t, s, msg(5))
	var epoch int64
	for _, tc := range []struct{ ask, want int64 }{{0, 6}, {100, 100}, {50, 100}} {
		got, e, err := seq.Fence(ctx(t), tc.ask)
		if err != nil || got != tc.want {
			t.Fatalf("Fence(%d) = %d, %v; want %d", tc.ask, got, err, tc.want)
		}
		epoch = e
	}
	got, err := seq.Append(ctx(t), epoch, msg(0))
	if err != nil || got[0].Seq != 100 {
		t.Fatalf("Append after Fence(100) = %+v, %v; want seq 100", got, err)
	}
}

// testReturn: moving back to Redis ends the epoch, so an append under it
// is refused and stores nothing; the seqs from where the store stopped are
// Redis's, the store's counter goes on gap above; a second instance
// moving back under the ended epoch changes nothing.
func testReturn(t *testing.T, s globalchat.MessageStore) {
	seq, ok := s.(globalchat.Sequencer)
	if !ok {
		t.Skip("not a Sequencer")
	}
	next, epoch, err := seq.Fence(ctx(t), 10)
	if err != nil || next != 10 {
		t.Fatalf("Fence = %d, %v", next, err)
	}
	if _, err := seq.Append(ctx(t), epoch, msg(0)); err != nil {
		t.Fatal(err)
	}
	from, err := seq.Return(ctx(t), epoch, 1000)
	if err != nil || from != 11 {
		t.Fatalf("Return = %d, %v; want 11", from, err)
	}
	late := msg(0)
	late.ID = "appended-after-the-return"
	if _, err := seq.Append(ctx(t), epoch, late); !errors.Is(err, globalchat.ErrMovedBack) {
		t.Fatalf("Append under the ended epoch: %v, want ErrMovedBack", err)
	}
	if again, err := seq.Return(ctx(t), epoch, 1000); err != nil || again != 0 {
		t.Fatalf("second Return = %d, %v; want 0 (done already)", again, err)
	}
	next, epoch2, err := seq.Fence(ctx(t), 0)
	if err != nil || next != 1011 || epoch2 == epoch {
		t.Fatalf("Fence after the return = %d (epoch %d, was %d), %v; want 1011, a new epoch", next, epoch2, epoch, err)
	}
	if got := after(t, s, 0, 10); len(got) != 1 {
		t.Fatalf("stored %d messages, want 1 (the refused append stored nothing)", len(got))
	}
}
