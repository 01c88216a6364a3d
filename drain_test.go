package main

// Draining and the inherited socket.

import (
	"net"
	"net/http"
	"testing"
)

// TestDrainClosesConnectionsAndFailsReadiness: once the drain starts, every
// answer, on any route, asks to close its connection, and /readyz is a 503
// with Retry-After; before it, neither.
func TestDrainClosesConnectionsAndFailsReadiness(t *testing.T) {
	t.Parallel()
	drain := &drainer{}
	h := newServer(discardLogger(), newMemStore(defaultMaxTasks), testCORS, nil, drain)
	targets := []string{"/healthz", "/api/u/tasks", "/no/such/route"}
	for _, target := range targets {
		if rec := serve(t, h, "GET", target, ""); rec.Header().Get("Connection") != "" {
			t.Errorf("GET %s before the drain: Connection %q", target, rec.Header().Get("Connection"))
		}
	}
	if rec := serve(t, h, "GET", "/readyz", ""); rec.Code != http.StatusOK {
		t.Errorf("/readyz before the drain: %d", rec.Code)
	}
	drain.start()
	for _, target := range append(targets, "/readyz") {
		if rec := serve(t, h, "GET", target, ""); rec.Header().Get("Connection") != "close" {
			t.Errorf("GET %s while draining: Connection %q, want close", target, rec.Header().Get("Connection"))
		}
	}
	rec := serve(t, h, "GET", "/readyz", "")
	wantDetail(t, rec, http.StatusServiceUnavailable, "Shutting down")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("/readyz while draining has no Retry-After")
	}
}

// TestDrainerWaitsForConnections: the drain's channel closes when the last
// open connection closes, or at once when none is open; idle connections
// count as open.
func TestDrainerWaitsForConnections(t *testing.T) {
	t.Parallel()
	var d drainer
	a, b := &net.TCPConn{}, &net.TCPConn{}
	for _, s := range []http.ConnState{http.StateNew, http.StateActive, http.StateIdle} {
		d.trackConn(a, s)
	}
	d.trackConn(b, http.StateNew)
	done := d.start()
	d.trackConn(a, http.StateClosed)
	select {
	case <-done:
		t.Fatal("drained with a connection still open")
	default:
	}
	d.trackConn(b, http.StateHijacked)
	select {
	case <-done:
	default:
		t.Fatal("not drained once every connection closed")
	}
	var empty drainer
	select {
	case <-empty.start():
	default:
		t.Error("a drain with no connection open does not end at once")
	}
}

// TestSocketActivation: the inherited socket is taken only when LISTEN_PID
// names this process, and only one.
func TestSocketActivation(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		env     map[string]string
		want    bool
		wantErr bool
	}{
		{nil, false, false},
		{map[string]string{"LISTEN_PID": "41", "LISTEN_FDS": "1"}, false, false}, // a parent's
		{map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "1"}, true, false},
		{map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "2"}, false, true},
		{map[string]string{"LISTEN_PID": "42"}, false, true},
	} {
		got, err := socketActivation(envMap(tt.env), 42)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%v: %v, %v; want %v and an error: %v", tt.env, got, err, tt.want, tt.wantErr)
		}
	}
}
