package main

// Database outage tests: a TCP proxy of the test's own sits between the
// service and PostgreSQL and cuts, stalls and restores the connection.

import (
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxyMode is what a faultProxy does with traffic.
type proxyMode int

const (
	proxyForward proxyMode = iota // pass everything through
	proxyStall                    // accept and hold everything, answer nothing
	proxyCut                      // close every connection and refuse new ones
)

// faultProxy forwards TCP connections to target, and can stall or cut them
// all at once, as a network partition or a database restart would.
type faultProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	flow  *sync.Cond // signalled when mode changes
	mode  proxyMode
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startFaultProxy listens on a free loopback port and forwards to target
// until the test ends.
func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.flow = sync.NewCond(&p.mu)
	p.wg.Go(p.acceptLoop)
	t.Cleanup(p.close)
	return p
}

// addr is where clients connect.
func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// set switches the mode; proxyCut closes every open connection.
func (p *faultProxy) set(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	if m == proxyCut {
		for c := range p.conns {
			c.Close()
		}
	}
	p.flow.Broadcast()
}

// close stops the proxy and waits for all its goroutines.
func (p *faultProxy) close() {
	p.ln.Close()
	p.set(proxyCut)
	p.wg.Wait()
}

func (p *faultProxy) acceptLoop() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		if mode == proxyCut {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client, server) {
			continue
		}
		p.wg.Go(func() { p.pipe(server, client) })
		p.wg.Go(func() { p.pipe(client, server) })
	}
}

// track registers a connection pair, or closes it if the proxy was cut
// meanwhile.
func (p *faultProxy) track(a, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == proxyCut {
		a.Close()
		b.Close()
		return false
	}
	p.conns[a], p.conns[b] = struct{}{}, struct{}{}
	return true
}

// pipe copies src to dst, holding each chunk while the proxy is stalled.
// When either side ends, both are closed.
func (p *faultProxy) pipe(dst, src net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitForFlow() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitForFlow blocks while the proxy is stalled and reports whether traffic
// may pass.
func (p *faultProxy) waitForFlow() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mode == proxyStall {
		p.flow.Wait()
	}
	return p.mode == proxyForward
}

// throughProxy returns the database URL raw with its host replaced by the
// proxy's address.
func throughProxy(t *testing.T, raw string, p *faultProxy) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.addr()
	return u.String()
}

// proxyTarget is the host:port the database URL raw points at.
func proxyTarget(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// eventually polls cond until it holds or timeout passes, and returns how
// long it took.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
	return time.Since(start)
}

// TestPostgresOutage: while the database is stalled or cut off, every
// endpoint answers 503 with Retry-After within the store timeout, /readyz is 503 and /healthz 200; once it is back, requests
// succeed again on the same store, and no goroutine is left behind.
//
// Not parallel: it counts the process's goroutines.
func TestPostgresOutage(t *testing.T) {
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	baseline := runtime.NumGoroutine()

	proxy := startFaultProxy(t, proxyTarget(t, raw))
	cfg, _, err := parsePostgresURL(throughProxy(t, raw, proxy))
	if err != nil {
		t.Fatal(err)
	}
	opts := defaultPgOptions()
	opts.Timeout = 500 * time.Millisecond
	store, err := openPostgres(t.Context(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	h := newServer(discardLogger(), store, testCORS, nil)
	user := newUserID(t)
	task := decodeAs[testTask](t, serve(t, h, "POST", "/api/"+user+"/tasks", `{"title": "kept", "description": "intact"}`), http.StatusCreated)
	limit := opts.Timeout + 500*time.Millisecond // scheduling slack on a busy machine

	for _, fault := range []struct {
		name string
		mode proxyMode
	}{{"stalled", proxyStall}, {"cut", proxyCut}} {
		proxy.set(fault.mode)
		for _, ep := range everyEndpointOf(user, task.ID) {
			start := time.Now()
			rec := serve(t, h, ep.method, ep.target, ep.body)
			took := time.Since(start)
			wantDetail(t, rec, http.StatusServiceUnavailable, "Database unavailable, try again shortly")
			if rec.Header().Get("Retry-After") == "" {
				t.Errorf("%s: %s %s: 503 without Retry-After", fault.name, ep.method, ep.target)
			}
			if took > limit {
				t.Errorf("%s: %s %s took %v, want at most %v", fault.name, ep.method, ep.target, took, limit)
			}
			t.Logf("%s: %s %s: 503 after %v", fault.name, ep.method, ep.target, took.Round(time.Millisecond))
		}
		if rec := serve(t, h, "GET", "/readyz", ""); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: /readyz = %d, want 503", fault.name, rec.Code)
		}
		if rec := serve(t, h, "GET", "/healthz", ""); rec.Code != http.StatusOK {
			t.Errorf("%s: /healthz = %d, want 200", fault.name, rec.Code)
		}

		// Drop what the stall held back before letting traffic through: a
		// write that got its 503 must not be applied afterwards here. (On a
		// real network it may be; README says a 503 on a write means
		// "unknown outcome".)
		proxy.set(proxyCut)
		proxy.set(proxyForward)
		recovery := eventually(t, 10*time.Second, fault.name+": recovery", func() bool {
			return serve(t, h, "GET", "/api/"+user+"/tasks/"+task.ID, "").Code == http.StatusOK
		})
		t.Logf("%s: first 200 %v after the database came back", fault.name, recovery.Round(time.Millisecond))
		got := decodeAs[testTask](t, serve(t, h, "GET", "/api/"+user+"/tasks/"+task.ID, ""), http.StatusOK)
		if !reflect.DeepEqual(got, task) {
			t.Errorf("%s: after recovery the task is %+v, want %+v", fault.name, got, task)
		}
	}
	// Every endpoint works again, on the same store.
	toggled := decodeAs[testTask](t, serve(t, h, "PATCH", "/api/"+user+"/tasks/"+task.ID+"/complete", ""), http.StatusOK)
	if !toggled.IsCompleted {
		t.Error("toggle after recovery did not complete the task")
	}

	store.Close()
	proxy.close()
	eventually(t, 5*time.Second, "goroutines back to the baseline", func() bool {
		return runtime.NumGoroutine() <= baseline
	})
}

// everyEndpointOf is one request to each task endpoint for the user's task.
func everyEndpointOf(user, id string) []struct{ method, target, body string } {
	one := "/api/" + user + "/tasks/" + id
	return []struct{ method, target, body string }{
		{"GET", "/api/" + user + "/tasks", ""},
		{"POST", "/api/" + user + "/tasks", `{"title": "during the outage"}`},
		{"GET", one, ""},
		{"PUT", one, `{"title": "during the outage"}`},
		{"PATCH", one + "/complete", ""},
		{"DELETE", one, ""},
	}
}

// TestPostgresStartUpWaitsForDatabase: the real binary starts while the
// database cannot be reached, answers 503 (healthz 200, readyz 503), and
// becomes ready on its own once the database answers, without a restart.
func TestPostgresStartUpWaitsForDatabase(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	bin := buildService(t)
	proxy := startFaultProxy(t, proxyTarget(t, raw))
	proxy.set(proxyCut)
	user := newUserID(t)

	s := startService(t, bin, t.TempDir(), "DATABASE_URL="+throughProxy(t, raw, proxy))
	code, body := s.call(t, "POST", "/api/"+user+"/tasks", `{"title": "too early"}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"detail"`) {
		t.Errorf("POST before the database: %d %s, want 503 with a detail", code, body)
	}
	if code, _ := s.call(t, "GET", "/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the database = %d, want 503", code)
	}
	if code, _ := s.call(t, "GET", "/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz before the database = %d, want 200", code)
	}

	proxy.set(proxyForward)
	took := eventually(t, 15*time.Second, "ready after the database came back", func() bool {
		code, _ := s.call(t, "GET", "/readyz", "")
		return code == http.StatusOK
	})
	t.Logf("ready %v after the database came back", took.Round(time.Millisecond))
	if code, body := s.call(t, "POST", "/api/"+user+"/tasks", `{"title": "in time"}`); code != http.StatusCreated {
		t.Errorf("POST once ready: %d %s", code, body)
	}
	s.stop(t)
	if !regexp.MustCompile(`PostgreSQL is ready`).MatchString(s.stderr()) {
		t.Errorf("no 'PostgreSQL is ready' line in the log:\n%s", s.stderr())
	}
}

// TestPostgresRefusesBadCredentials: what retrying cannot fix ends start-up
// with exit 1 and one clear line, without the password.
func TestPostgresRefusesBadCredentials(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	bin := buildService(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("no_such_role_"+strings.ToLower(testRunID[5:]), "s3cr3t")
	s := launch(t, bin, t.TempDir(), "DATABASE_URL="+u.String())
	if code := s.wait(t); code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	errLines := errorLines(s.stderr())
	if len(errLines) != 1 || !strings.HasPrefix(errLines[0], "tasksvc: PostgreSQL at ") {
		t.Errorf("stderr error lines = %q, want one 'tasksvc: PostgreSQL at …' line", errLines)
	}
	if strings.Contains(s.stderr(), "s3cr3t") {
		t.Errorf("stderr shows the password:\n%s", s.stderr())
	}
}
