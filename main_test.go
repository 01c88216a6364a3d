package main

// The http.Server run builds (newHTTPServer): its header limit, and slow
// clients against its header timeout.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHeaderLimit: request headers over MaxHeaderBytes get 431 from the
// server as run configures it; a bearer token and cookies fit.
func TestHeaderLimit(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = newHTTPServer(newTestServer(t), discardLogger(), readHeaderTimeout)
	srv.Start()
	defer srv.Close()
	for _, tt := range []struct {
		size int
		want int
	}{
		{maxHeaderBytes - 1024, http.StatusOK},                          // as documented: 32 KiB of headers pass
		{maxHeaderBytes + 4096, http.StatusRequestHeaderFieldsTooLarge}, // and with Go's 4 KiB more, no more
	} {
		req, err := http.NewRequest("GET", srv.URL+"/api/u/tasks", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", "c="+strings.Repeat("x", tt.size))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%d-byte header: status %d, want %d", tt.size, resp.StatusCode, tt.want)
		}
	}
}

// ---------------------------------------------------------------------------
// Slow clients

// slowByteInterval paces the slow clients: one header byte each per tick.
// It is the load's shape, not a synchronisation.
const slowByteInterval = 100 * time.Millisecond

// serveForTest serves the whole API on the memory store with the
// http.Server run builds, on a loopback port. accepted receives one value
// per connection the server has accepted and started reading (up to its
// capacity; later ones are dropped).
func serveForTest(t *testing.T, headerTimeout time.Duration, capacity int) (addr string, accepted <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(newTestServer(t), discardLogger(), headerTimeout)
	acc := make(chan struct{}, capacity)
	srv.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			select {
			case acc <- struct{}{}:
			default:
			}
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), acc
}

// slowClient is a connection that sends request headers one byte at a time
// and never finishes them.
type slowClient struct {
	conn  net.Conn
	start time.Time     // when it started dialling: before the server can start its clock
	cut   chan struct{} // closed when the connection ends
	cutAt time.Time     // when it ended; read only after cut is closed
}

// slowHeaders is what a slow client sends: a request whose header block
// never ends, so only a timeout can free the server's side.
const slowHeaders = "GET /healthz HTTP/1.1\r\nHost: slow.example\r\nX-Slow: "

// startSlowClients dials n slow clients, returns once the server has
// accepted them all, and keeps each sending a header byte per
// slowByteInterval until the test ends. After each round of bytes, rounds
// receives the number of bytes each client has sent so far, unless the
// previous value is still unread.
func startSlowClients(t *testing.T, addr string, n int, accepted <-chan struct{}) (clients []*slowClient, rounds <-chan int) {
	t.Helper()
	clients = make([]*slowClient, 0, n)
	sent := make(chan int, 1)
	var readers sync.WaitGroup
	done := make(chan struct{})
	var trickler sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		trickler.Wait()
		for _, c := range clients {
			c.conn.Close()
		}
		readers.Wait()
	})
	for range n {
		start := time.Now()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial slow client %d: %v", len(clients), err)
		}
		c := &slowClient{conn: conn, start: start, cut: make(chan struct{})}
		clients = append(clients, c)
		if _, err := conn.Write([]byte(slowHeaders[:1])); err != nil {
			t.Fatal(err)
		}
		goWait(&readers, func() {
			// Returns when the server hangs up (or the cleanup closes it).
			io.Copy(io.Discard, conn)
			c.cutAt = time.Now()
			close(c.cut)
		})
	}
	timeout := time.After(30 * time.Second)
	for i := range n {
		select {
		case <-accepted:
		case <-timeout:
			t.Fatalf("the server accepted %d of %d slow clients within 30 s", i, n)
		}
	}
	goWait(&trickler, func() {
		tick := time.NewTicker(slowByteInterval)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			b := byte('a')
			if i < len(slowHeaders) {
				b = slowHeaders[i]
			}
			for _, c := range clients {
				select {
				case <-c.cut:
				default:
					c.conn.Write([]byte{b}) // an error means the server hung up; the reader sees it
				}
			}
			select {
			case sent <- i + 1:
			default:
			}
		}
	})
	return clients, sent
}

// slowClientCount is how many slow clients the test can afford: each one
// holds two descriptors in this process (its end and the server's), and the
// rest of the suite runs alongside.
func slowClientCount(t *testing.T, want int) int {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if affordable := int(lim.Cur / 4); affordable < want {
		t.Logf("descriptor limit %d: %d slow clients instead of %d", lim.Cur, affordable, want)
		return affordable
	}
	return want
}

// TestSlowHeaderClientsDoNotStarveOthers: while 200 connections trickle
// their headers in a byte at a time, new clients are still served
// promptly, and before any slow one has been cut off.
func TestSlowHeaderClientsDoNotStarveOthers(t *testing.T) {
	t.Parallel()
	n := slowClientCount(t, 200)
	addr, accepted := serveForTest(t, readHeaderTimeout, n)
	slow, rounds := startSlowClients(t, addr, n, accepted)

	// "Promptly", generously: a second per request would already be
	// glacial on loopback. A fresh connection for each request, because a
	// new client is what a starved accept loop or a connection cap would
	// keep waiting.
	const bound = 5 * time.Second
	client := &http.Client{Timeout: bound, Transport: &http.Transport{DisableKeepAlives: true}}
	base := "http://" + addr + "/api/normal/tasks"
	var latencies []time.Duration
	timed := func(req func() (*http.Response, error), want int) []byte {
		t.Helper()
		start := time.Now()
		resp, err := req()
		if err != nil {
			t.Fatalf("normal client not served within %v while %d slow clients are connected: %v", bound, n, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		latencies = append(latencies, time.Since(start))
		if err != nil || resp.StatusCode != want {
			t.Fatalf("normal client: %d %s (%v), want %d", resp.StatusCode, body, err, want)
		}
		return body
	}
	var headerBytes int
	for i := range 10 {
		// One create and one read per round of slow bytes, so the server
		// is reading slow headers in between the normal requests. A round
		// that ended before the last requests does not count.
		select {
		case <-rounds:
		default:
		}
		select {
		case headerBytes = <-rounds:
		case <-time.After(bound):
			t.Fatalf("no round of slow header bytes within %v", bound)
		}
		var task testTask
		created := timed(func() (*http.Response, error) {
			return client.Post(base, "application/json", strings.NewReader(fmt.Sprintf(`{"title": "normal %d"}`, i)))
		}, http.StatusCreated)
		if err := json.Unmarshal(created, &task); err != nil {
			t.Fatal(err)
		}
		timed(func() (*http.Response, error) { return client.Get(base + "/" + task.ID) }, http.StatusOK)
	}
	for i, c := range slow {
		select {
		case <-c.cut:
			t.Errorf("slow client %d was cut off after %v: the normal client was not served while they were all connected",
				i, c.cutAt.Sub(c.start))
		default:
		}
	}
	slices.Sort(latencies)
	t.Logf("%d slow-header connections open, %d header bytes sent on each; %d normal requests on fresh connections: median %v, slowest %v",
		n, headerBytes, len(latencies), latencies[len(latencies)/2], latencies[len(latencies)-1])
}

// TestSlowHeaderClientIsCutOff: a client that keeps sending header bytes,
// but never the whole header block, loses its connection when the header
// timeout expires; a steady trickle does not extend it. run uses
// readHeaderTimeout (10 s); a shorter one keeps the test quick.
func TestSlowHeaderClientIsCutOff(t *testing.T) {
	t.Parallel()
	const headerTimeout = 500 * time.Millisecond
	// Well past headerTimeout, well short of ReadTimeout (30 s), which
	// would also cut the client off if ReadHeaderTimeout were not set.
	const bound = 10 * time.Second
	addr, accepted := serveForTest(t, headerTimeout, 3)
	slow, _ := startSlowClients(t, addr, 3, accepted)
	timeout := time.After(bound)
	for i, c := range slow {
		select {
		case <-c.cut:
		case <-timeout:
			t.Fatalf("slow client %d still connected %v after dialling; the header timeout is %v", i, bound, headerTimeout)
		}
		if took := c.cutAt.Sub(c.start); took < headerTimeout {
			t.Errorf("slow client %d cut off after %v, before the header timeout %v", i, took, headerTimeout)
		} else {
			t.Logf("slow client %d cut off after %v (header timeout %v)", i, took, headerTimeout)
		}
	}
}
