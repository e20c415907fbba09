package socketio

import "testing"

// Broadcasts of the LazyEvents are told apart by their packet's event
// name alone, in any namespace, and no other packet is.
func TestIsLazy(t *testing.T) {
	s := &Server{lazy: quoted([]string{"presence:update", "chat:typing"})}
	for pkt, want := range map[string]bool{
		`2["presence:update",{"onlineCount":3}]`:               true,
		`2/admin,["chat:typing",{}]`:                           true,
		`2["chat:typing"]`:                                     true,
		`2["chat:message",{"content":"presence:update"}]`:      false,
		`2["presence:updates",{}]`:                             false,
		`51-["presence:update",{"_placeholder":true,"num":0}]`: false,
		`0{"sid":"x"}`:                                         false,
		``:                                                     false,
	} {
		if got := s.isLazy([]byte(pkt)); got != want {
			t.Errorf("isLazy(%s) = %v, want %v", pkt, got, want)
		}
	}
	if (&Server{}).isLazy([]byte(`2["presence:update"]`)) {
		t.Error("lazy without LazyEvents")
	}
}
