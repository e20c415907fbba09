package socketio

import (
	"slices"
	"testing"
)

func sockets(n int) []*Socket {
	s := make([]*Socket, n)
	for i := range s {
		s[i] = &Socket{id: itoa(uint64(i))}
	}
	return s
}

func ids(list []*Socket) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.id
	}
	return out
}

// A room keeps join order through leaves and compactions, small (scanned)
// or large (indexed).
func TestMembersKeepJoinOrder(t *testing.T) {
	for _, n := range []int{3, smallRoom + 1, 1000} {
		var m members
		all := sockets(n)
		for _, s := range all {
			if !m.add(s) {
				t.Fatalf("n=%d: %s not added", n, s.id)
			}
		}
		if m.add(all[0]) {
			t.Fatalf("n=%d: a member was added twice", n)
		}
		// Leave every socket but every third: enough holes to compact.
		var want []*Socket
		for i, s := range all {
			if i%3 == 0 {
				want = append(want, s)
				continue
			}
			if !m.remove(s) || m.remove(s) {
				t.Fatalf("n=%d: removing %s", n, s.id)
			}
		}
		late := &Socket{id: "late"}
		m.add(late)
		want = append(want, late)
		if got := m.appendTo(nil); !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("n=%d: members %v, want %v", n, ids(got), ids(want))
		}
		if m.len() != len(want) || !m.has(late) || m.has(all[1]) {
			t.Fatalf("n=%d: len %d, want %d; has late %v, has a leaver %v", n, m.len(), len(want), m.has(late), m.has(all[1]))
		}
		if len(m.order) > 2*m.len()+smallRoom {
			t.Fatalf("n=%d: %d slots for %d members: not compacted", n, len(m.order), m.len())
		}
	}
}

// A broadcast goes to its rooms' sockets in join order, each once, minus
// the excepted.
func TestBroadcastTargetsInJoinOrder(t *testing.T) {
	n := newNamespace(nil, "/")
	all := sockets(20)
	for _, s := range all {
		n.join(s, []string{"r"})
	}
	n.join(all[3], []string{"x"})
	n.join(all[19], []string{"s"})
	n.join(all[0], []string{"s"}) // joins s after 19
	n.leave(all[5], "r")

	list := n.targets(Broadcast{Rooms: []string{"r", "s"}, Except: []string{"x"}})
	var want []*Socket
	for i, s := range all {
		if i != 3 && i != 5 {
			want = append(want, s)
		}
	}
	if got := *list; !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("targets %v, want %v", ids(got), ids(want))
	}
}
