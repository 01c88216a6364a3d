package main

// Draining: what the service does between the first SIGTERM and its exit,
// so that a restart behind a load balancer drops no request. /readyz turns
// 503, every answer closes its connection, and the process waits for its
// connections to end (after such an answer, or closed by the peer) rather
// than closing one on which a request may be arriving.

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// errDraining is /readyz's answer while the service drains, and that to
// an event stream asked for then.
var errDraining = errors.New("the service is shutting down")

// drainer is the shutdown state the HTTP layer reads, and the count of open
// connections shutdown waits on. A nil *drainer never drains.
type drainer struct {
	draining  atomic.Bool
	mu        sync.Mutex    // guards open, allClosed and streamsEnd
	open      int           // connections accepted and not yet closed
	allClosed chan struct{} // closed when open falls to 0 while draining
	// streamsEnd is closed when event streams must end: at the drain, so
	// that their clients resume on another instance, or at shutdown.
	streamsEnd chan struct{}
	ended      bool
}

// streamsEnding returns a channel that is closed when event streams must
// end; nil (never) for a nil *drainer.
func (d *drainer) streamsEnding() <-chan struct{} {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.streamsEnd == nil {
		d.streamsEnd = make(chan struct{})
		if d.ended {
			close(d.streamsEnd)
		}
	}
	return d.streamsEnd
}

// endStreams ends every event stream, now and to come.
func (d *drainer) endStreams() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ended && d.streamsEnd != nil {
		close(d.streamsEnd)
	}
	d.ended = true
}

// isDraining reports whether shutdown has begun.
func (d *drainer) isDraining() bool {
	return d != nil && d.draining.Load()
}

// trackConn counts connections; it is the http.Server's ConnState hook.
func (d *drainer) trackConn(_ net.Conn, state http.ConnState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch state {
	case http.StateNew:
		d.open++
	case http.StateClosed, http.StateHijacked:
		d.open--
		if d.open == 0 && d.allClosed != nil {
			close(d.allClosed)
			d.allClosed = nil
		}
	}
}

// start begins draining and returns a channel that is closed once no
// connection is open.
func (d *drainer) start() <-chan struct{} {
	d.draining.Store(true)
	d.endStreams()
	d.mu.Lock()
	defer d.mu.Unlock()
	done := make(chan struct{})
	if d.open == 0 {
		close(done)
	} else {
		d.allClosed = done
	}
	return done
}

// withDrain asks, while the service drains, that each answer close its
// connection (net/http then closes it once the answer is written), so the
// client sends its next request to another instance.
func withDrain(d *drainer, next http.Handler) http.Handler {
	if d == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.isDraining() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
