package testenv

import "testing"

func TestRedisDownPauseAndFlush(t *testing.T) {
	r := RedisDown(t)
	if err := ping(r.Addr); err == nil {
		t.Fatal("a server not started answers")
	}
	r.Restart() // starts it
	if err := command(r.Addr, "SET k v", "+OK"); err != nil {
		t.Fatal(err)
	}
	r.Pause()
	if err := ping(r.Addr); err == nil {
		t.Fatal("a paused server answers")
	}
	r.Resume()
	r.FlushAll()
	if err := command(r.Addr, "EXISTS k", ":0"); err != nil {
		t.Fatalf("after FLUSHALL: %v", err)
	}
	r.Pause() // the cleanup stops a paused server too
}
