package main

// The connections' reads, after their handshake, go through pollers: one
// goroutine per core waits on an epoll set of its own and reads whichever
// connections are ready. A goroutine per connection made every broadcast
// to 10,000 clients wake 10,000 goroutines at once on the cores the
// generator shares with the servers; a client reconnecting meanwhile (its
// dial, its upgrade, its CONNECT reply) waited behind all of them in the
// runtime's queue, and that wait, not the server's, was most of the
// churn's replay tail. With pollers, the handshakes wait behind a couple
// of goroutines the runtime preempts every 10 ms, and a message costs
// one read instead of two (no read that ends in EAGAIN) and no goroutine
// switch.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollBatch is how many ready connections one epoll_wait returns at most.
const pollBatch = 256

// pollBuffer is a poller's read buffer, shared by its connections: one
// read takes what a connection has (a frame split across reads waits in
// the connection's own buffer for the rest).
const pollBuffer = 64 << 10

// poller reads the connections registered with it, in one goroutine.
type poller struct {
	epfd int
	// ep is epfd as a file the runtime polls: the goroutine parks until
	// the epoll set has something ready, without holding a thread.
	ep syscall.RawConn

	mu    sync.Mutex
	conns map[uint64]*Client // by registration id, the epoll events' data
	next  uint64

	buf    []byte
	events []unix.EpollEvent
}

var pollers struct {
	once sync.Once
	all  []*poller
	err  error
	next atomic.Uint64
}

// pollerFor returns the next poller in turn, starting them on first use
// (one per core; they live as long as the process).
func pollerFor() (*poller, error) {
	pollers.once.Do(func() {
		for range runtime.GOMAXPROCS(0) {
			p, err := newPoller()
			if err != nil {
				pollers.err = err
				return
			}
			pollers.all = append(pollers.all, p)
			go p.run()
			go p.sweep(time.Second)
		}
	})
	if pollers.err != nil {
		return nil, pollers.err
	}
	return pollers.all[pollers.next.Add(1)%uint64(len(pollers.all))], nil
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	// Non-blocking, so that os.NewFile hands it to the runtime's poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	rc, err := os.NewFile(uintptr(epfd), "epoll").SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	return &poller{
		epfd: epfd, ep: rc, conns: map[uint64]*Client{},
		buf: make([]byte, pollBuffer), events: make([]unix.EpollEvent, pollBatch),
	}, nil
}

// add registers c: from now on its reads happen in p's goroutine.
func (p *poller) add(c *Client) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return net.ErrClosed
	}
	p.mu.Lock()
	p.next++
	id := p.next
	p.conns[id] = c
	p.mu.Unlock()
	// Level-triggered: a connection with bytes left after one read is
	// ready again at the next epoll_wait.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	var err error
	if cerr := c.raw.Control(func(fd uintptr) {
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	}); cerr != nil {
		err = cerr
	}
	if err != nil {
		p.remove(id)
		return fmt.Errorf("epoll: %w", err)
	}
	c.poller, c.pollID = p, id
	return nil
}

// remove forgets registration id. A closed descriptor leaves the epoll set
// by itself; an event already taken for it finds no connection.
func (p *poller) remove(id uint64) {
	p.mu.Lock()
	delete(p.conns, id)
	p.mu.Unlock()
}

// run waits for ready connections and serves each, for ever.
func (p *poller) run() {
	for {
		n, err := p.wait()
		if err != nil {
			p.fail(err)
			return
		}
		for _, ev := range p.events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			c := p.conns[id]
			p.mu.Unlock()
			if c != nil {
				p.serve(c)
			}
		}
	}
}

// wait returns the number of ready connections in p.events, parking the
// goroutine while there are none.
func (p *poller) wait() (int, error) {
	var n int
	var werr error
	err := p.ep.Read(func(fd uintptr) bool {
		n, werr = unix.EpollWait(int(fd), p.events, 0)
		if werr == unix.EINTR {
			n, werr = 0, nil
		}
		return werr != nil || n > 0
	})
	if err == nil {
		err = werr
	}
	return n, err
}

// fail ends every connection of a poller that can no longer wait (it
// cannot happen but for a bug: the epoll set is never closed).
func (p *poller) fail(err error) {
	p.mu.Lock()
	conns := make([]*Client, 0, len(p.conns))
	for _, c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.end(fmt.Errorf("poller: %w", err))
	}
}

// serve reads what c has, once, and hands every whole message to its
// handler; a part of a frame waits in c.in for the rest.
func (p *poller) serve(c *Client) {
	n, err := c.readRaw(p.buf)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	data := p.buf[:n]
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		data = c.in
	}
	used, cerr := c.consume(data)
	c.in = append(c.in[:0], data[used:]...)
	if len(c.in) == 0 && cap(c.in) > pollBuffer {
		c.in = nil // a big frame is over: do not keep its buffer
	}
	switch {
	case cerr != nil:
		c.end(cerr)
	case err != nil:
		c.end(err)
	}
}

// sweep ends, every period, the connections that received nothing for
// longer than their idle time (the server's ping interval and timeout):
// the server is gone without a word.
func (p *poller) sweep(period time.Duration) {
	t := time.NewTicker(period)
	for range t.C {
		now := time.Now().UnixNano()
		var idle []*Client
		p.mu.Lock()
		for _, c := range p.conns {
			if now-c.lastRead.Load() > int64(c.idle) {
				idle = append(idle, c)
			}
		}
		p.mu.Unlock()
		for _, c := range idle {
			c.end(fmt.Errorf("nothing received for %v", c.idle))
		}
	}
}

// readRaw reads once from c's socket, which must have something to read
// (or an error to tell): it never blocks. Through RawConn, so that a
// concurrent Close cannot close (and the process reuse) the descriptor
// during the read.
func (c *Client) readRaw(b []byte) (int, error) {
	var n int
	var rerr error
	if err := c.raw.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), b)
		return true
	}); err != nil {
		return 0, err
	}
	switch {
	case errors.Is(rerr, unix.EAGAIN) || errors.Is(rerr, unix.EINTR):
		return 0, nil // nothing after all: the next event tells
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// growTail returns b with room for at least n more bytes.
func growTail(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	return append(b, make([]byte, n)...)[:len(b)]
}
