package chat

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

func TestHistoryCacheBuildsOncePerMessage(t *testing.T) {
	var h historyCache
	builds := 0
	build := func(context.Context) (json.RawMessage, error) {
		builds++
		return json.RawMessage(`{"messages":[]}`), nil
	}
	ctx := context.Background()
	for range 100 {
		if _, err := h.get(ctx, build); err != nil {
			t.Fatal(err)
		}
	}
	h.advance(1)
	h.get(ctx, build)
	h.get(ctx, build)
	if builds != 2 {
		t.Fatalf("%d builds for 102 connections and one message, want 2", builds)
	}
	failing := func(context.Context) (json.RawMessage, error) { return nil, errors.New("down") }
	h.advance(2)
	if _, err := h.get(ctx, failing); err == nil {
		t.Fatal("a failed build was not reported")
	}
	h.get(ctx, build)
	if builds != 3 {
		t.Fatalf("a failed build was kept: %d builds", builds)
	}
}
