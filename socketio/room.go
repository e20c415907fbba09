package socketio

// members is a room's sockets in the order they joined. Broadcasts walk
// it in that order, as socket.io's do (its rooms are JavaScript Sets,
// which keep insertion order): when a crowd arrives, the sockets that
// were already there are written first, so that the chat goes on for
// them while the newcomers are served.
type members struct {
	order []*Socket       // join order; nil where a socket left
	index map[*Socket]int // position in order, kept once a room outgrows smallRoom
	n     int             // sockets in the room
}

// smallRoom is the size up to which a room finds a member by scanning:
// most rooms are a socket's own, with one member, and a map would cost
// each connection more memory than the scan ever costs time.
const smallRoom = 8

func (m *members) len() int { return m.n }

// add adds s at the end of the order; it reports whether s was new.
func (m *members) add(s *Socket) bool {
	if m.find(s) >= 0 {
		return false
	}
	m.order = append(m.order, s)
	m.n++
	switch {
	case m.index != nil:
		m.index[s] = len(m.order) - 1
	case m.n > smallRoom:
		m.reindex()
	}
	return true
}

// remove takes s out, keeping the others' order; it reports whether s
// was there.
func (m *members) remove(s *Socket) bool {
	i := m.find(s)
	if i < 0 {
		return false
	}
	m.order[i] = nil
	delete(m.index, s)
	m.n--
	if holes := len(m.order) - m.n; holes > m.n && holes > smallRoom {
		m.compact()
	}
	return true
}

func (m *members) find(s *Socket) int {
	if m.index != nil {
		if i, ok := m.index[s]; ok {
			return i
		}
		return -1
	}
	for i, t := range m.order {
		if t == s {
			return i
		}
	}
	return -1
}

// compact drops the holes left by removals: amortized over those
// removals, each costs O(1).
func (m *members) compact() {
	live := m.order[:0]
	for _, s := range m.order {
		if s != nil {
			live = append(live, s)
		}
	}
	clear(m.order[len(live):]) // no stale pointers past the end
	m.order = live
	if m.index != nil {
		m.reindex()
	}
}

func (m *members) reindex() {
	m.index = make(map[*Socket]int, len(m.order))
	for i, s := range m.order {
		if s != nil {
			m.index[s] = i
		}
	}
}

// appendTo appends the members to dst in join order.
func (m *members) appendTo(dst []*Socket) []*Socket {
	for _, s := range m.order {
		if s != nil {
			dst = append(dst, s)
		}
	}
	return dst
}

// has reports whether s is a member.
func (m *members) has(s *Socket) bool { return m.find(s) >= 0 }
