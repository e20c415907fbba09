package redis

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/testenv"
)

// Concurrent calls each get their own replies, and one caller's error
// reply does not fail the others sharing its pipeline.
func TestAutoPipelineKeepsRepliesApart(t *testing.T) {
	c := client(t, testenv.Redis(t))
	ctx := ctxT(t)
	if err := c.SAdd(ctx, "aset", "x").Err(); err != nil {
		t.Fatal(err)
	}
	a := newAutoPipeline(c)
	defer a.close()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("k", i)
			var set *goredis.StatusCmd
			var get, bad *goredis.StringCmd
			err := a.do(ctx, "test", func(p goredis.Pipeliner) {
				set = p.Set(ctx, key, i, 0)
				bad = p.Get(ctx, "aset") // WRONGTYPE
				get = p.Get(ctx, key)
			})
			switch {
			case err != nil:
				errs <- err
			case set.Err() != nil || get.Val() != fmt.Sprint(i):
				errs <- fmt.Errorf("call %d: set %v, get %q %v", i, set.Err(), get.Val(), get.Err())
			case bad.Err() == nil:
				errs <- fmt.Errorf("call %d: GET of a set did not fail", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A Redis that forgot its scripts (restarted, SCRIPT FLUSH) still runs
// the pipelined ones.
func TestAutoPipelineScriptUnknownToRedis(t *testing.T) {
	c := client(t, testenv.Redis(t))
	ctx := ctxT(t)
	p := NewPresence(c, PresenceOptions{InstanceID: "i1"})
	defer p.Close()
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	first, n, err := p.Add(ctx, globalchat.Conn{SocketID: "s1", User: globalchat.User{ID: "u1", Name: "Ann"}})
	if err != nil || !first || n != 1 {
		t.Fatalf("Add after SCRIPT FLUSH = %v, %d, %v", first, n, err)
	}
}

// When Redis does not answer, every caller gets an error saying it is
// unavailable, rather than commands without replies.
func TestAutoPipelineRedisDown(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	a := newAutoPipeline(c)
	defer a.close()
	ctx := ctxT(t)
	err := a.do(ctx, "test", func(p goredis.Pipeliner) { p.Get(ctx, "k") })
	if !errors.Is(err, globalchat.ErrUnavailable) {
		t.Fatalf("do against no Redis = %v, want ErrUnavailable", err)
	}
}
