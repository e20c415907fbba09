package engineio

import (
	"bufio"
	"io"
	"sync"
)

// readerPool lends read buffers to WebSocket connections while a message
// is being read, so that an idle connection holds none.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// wsReader reads a WebSocket in few system calls without giving every
// idle connection a read buffer. While the connection waits for its next
// frame, the blocking read fills only small, which holds a whole ping or
// pong frame; once a frame is under way (borrow), a pooled buffer reads
// the rest of it, and the frames right behind it, at once. The buffer
// goes back to the pool (release) when a message has been read and
// nothing is left in it.
type wsReader struct {
	src    io.Reader
	small  [16]byte
	sr, sw int // small[sr:sw] is unread
	br     *bufio.Reader
}

func (r *wsReader) Read(p []byte) (int, error) {
	if r.sr < r.sw {
		n := copy(p, r.small[r.sr:r.sw])
		r.sr += n
		return n, nil
	}
	if r.br != nil {
		return r.br.Read(p)
	}
	n, err := r.src.Read(r.small[:])
	r.sr, r.sw = 0, n
	if n > 0 {
		m := copy(p, r.small[:n])
		r.sr = m
		return m, nil
	}
	return 0, err
}

// fill waits until something is unread: called straight from the read
// loop, so that an idle connection's goroutine parks with a shallow stack
// (the runtime then shrinks it to its smallest size).
func (r *wsReader) fill() error {
	if r.sr < r.sw || (r.br != nil && r.br.Buffered() > 0) {
		return nil
	}
	n, err := r.src.Read(r.small[:])
	r.sr, r.sw = 0, n
	if n > 0 {
		return nil
	}
	return err
}

// borrow gives r a read buffer for the rest of the frame under way.
func (r *wsReader) borrow() {
	if r.br == nil {
		r.br = readerPool.Get().(*bufio.Reader)
		r.br.Reset(r.src)
	}
}

// release returns the buffer once it holds nothing unread.
func (r *wsReader) release() {
	if r.br != nil && r.br.Buffered() == 0 {
		r.br.Reset(nil)
		readerPool.Put(r.br)
		r.br = nil
	}
}
