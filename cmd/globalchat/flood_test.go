package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestHandshakeFlood: polling handshakes pipelined from 8 addresses, 50 a
// write every 10 ms each (40,000 a second, as in the finding), for 5 s:
// the server stays under 200 MB of RSS while an observer's messages reach
// the room within 100 ms (the median: the 95th percentile, logged, is
// under 100 ms on a quiet machine, not on one loaded by others' tests).
func TestHandshakeFlood(t *testing.T) {
	testenv.LoadLock(t) // its timing is judged: not beside the fault suite
	// The observer samples ten times a second, beyond a person's 20
	// messages a minute: its limit is raised; the flood meets the shipped
	// bounds.
	in := startBinary(t, "RATE_LIMIT_PER_MINUTE=1000")
	obs := dialWS(t, in, "127.0.60.1")
	obs.join("observer")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[string]int{}
	for a := range 8 {
		wg.Go(func() { flood(in.addr, fmt.Sprintf("127.0.%d.9", 100+a), stop, &mu, statuses) })
	}
	var lat []time.Duration
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		start := time.Now()
		obs.send(fmt.Sprintf(`42%d["chat:message",{"content":"still here %d"}]`, i, i))
		// Its own message coming back is what everyone else sees of it.
		want := fmt.Sprintf(`"content":"still here %d"`, i)
		for m := obs.read(); !strings.HasPrefix(m, `42["chat:message"`) || !strings.Contains(m, want); m = obs.read() {
		}
		lat = append(lat, time.Since(start))
		time.Sleep(100 * time.Millisecond)
	}
	rss := vmRSS(t, in.pid)
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	median, p95 := lat[len(lat)/2], lat[len(lat)*95/100]
	t.Logf("flood answers %v; RSS %d MB; observer's messages back: median %v, p95 %v, max %v",
		statuses, rss>>20, median, p95, lat[len(lat)-1])
	if rss > 200<<20 {
		t.Errorf("RSS %d MB under the flood, want < 200 MB", rss>>20)
	}
	if median > 100*time.Millisecond {
		t.Errorf("observer median %v, want < 100 ms", median)
	}
	if statuses["200"] == 0 || statuses["429"]+statuses["503"] == 0 {
		t.Errorf("answers %v: the flood did not reach the bounds", statuses)
	}
}

// flood pipelines polling handshakes from local until stop, counting the
// answers' statuses.
func flood(server, local string, stop <-chan struct{}, mu *sync.Mutex, statuses map[string]int) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", server)
	if err != nil {
		return
	}
	defer conn.Close()
	go countStatuses(conn, mu, statuses)
	batch := strings.Repeat("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n", 50)
	for {
		select {
		case <-stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(conn, batch); err != nil {
			return
		}
	}
}

func countStatuses(conn net.Conn, mu *sync.Mutex, statuses map[string]int) {
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		// A status line follows the previous answer's body on its line.
		if i := strings.Index(line, "HTTP/1.1 "); i >= 0 {
			f := strings.Fields(line[i:])
			mu.Lock()
			statuses[f[1]]++
			mu.Unlock()
		}
	}
}
