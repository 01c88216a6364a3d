package main

// The connection to PostgreSQL: the URL and pool options, the schema at
// start-up, prepared statements and their fallback, which errors mean the
// database is unavailable, and outages: a TCP proxy of the test's own sits
// between the store and PostgreSQL and cuts, stalls and restores the
// connection.

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
)

func TestParsePostgresURL(t *testing.T) {
	t.Parallel()
	neon := "postgresql://alex:AbC123dEf@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/dbname?sslmode=require&channel_binding=require"
	cfg, dropped, err := parsePostgresURL(neon)
	if err != nil {
		t.Fatalf("Neon's URL: %v", err)
	}
	if _, ok := cfg.Runtime["channel_binding"]; ok || !dropped {
		t.Errorf("channel_binding still sent to the server: %v", cfg.Runtime)
	}
	if cfg.ConnectTimeout != pgDefaultConnectTimeout || !cfg.BinaryParameters || cfg.SSLMode != "require" {
		t.Errorf("connect_timeout %v, binary_parameters %v, sslmode %q", cfg.ConnectTimeout, cfg.BinaryParameters, cfg.SSLMode)
	}
	if cfg.Host != "ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech" || cfg.Database != "dbname" || cfg.User != "alex" {
		t.Errorf("host %q, database %q, user %q", cfg.Host, cfg.Database, cfg.User)
	}

	cfg, _, err = parsePostgresURL("postgres://u@h/db?connect_timeout=3&binary_parameters=no")
	if err != nil || cfg.ConnectTimeout != 3*time.Second || cfg.BinaryParameters {
		t.Errorf("explicit settings not kept: %v, %v, %v", err, cfg.ConnectTimeout, cfg.BinaryParameters)
	}

	for _, bad := range []string{
		"postgres://u:s3cr3t@h:99999/db",
		"postgres://u:s3cr3t pw@h/db",
		"postgres://u:s3cr3t@[::1/db",
		"postgres://u:s3cr3t@h/db?sslmode=bogus",
		"mysql://u:s3cr3t@h/db",
		"host=h password=s3cr3t",
		"s3cr3t",
		"postgres://u:s3cr3t@h/db?sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
		"postgres://u:s3cr3t@h/db?sslmode=verify-full&sslcert=/nonexistent/client.crt",
	} {
		_, _, err := parsePostgresURL(bad)
		if err == nil {
			t.Errorf("%q: no error", bad)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "s3cr3t") || !strings.HasPrefix(msg, "DATABASE_URL") || strings.Contains(msg, "\n") {
			t.Errorf("%q: error %q leaks the password, is not one line or does not name the variable", bad, msg)
		}
	}
}

func TestPgPrepareAuto(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		"postgres://u:p@ep-cool-123.eu-central-1.aws.neon.tech/db":        true,
		"postgres://u:p@ep-cool-123-pooler.eu-central-1.aws.neon.tech/db": false,
		"postgres://u:p@127.0.0.1:5432/db":                                true,
		"postgres://u:p@127.0.0.1:6432/db":                                false,
	} {
		cfg, _, err := parsePostgresURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := pgPrepareAuto(cfg); got != want {
			t.Errorf("%s: prepared statements = %v, want %v", raw, got, want)
		}
	}
}

// TestPostgresAcceptsNeonStyleURL: channel_binding=require, as Neon's
// console writes it, connects.
func TestPostgresAcceptsNeonStyleURL(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	s := openTestPostgres(t, withURLParam(raw, "channel_binding", "require"))
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// withURLParam adds one query parameter to a connection URL.
func withURLParam(raw, key, value string) string {
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + key + "=" + url.QueryEscape(value)
}

func TestIsConnectionError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&pq.Error{Code: "08006"}, true},  // connection_failure
		{&pq.Error{Code: "57P01"}, true},  // admin_shutdown
		{&pq.Error{Code: "57P03"}, true},  // cannot_connect_now (starting up)
		{&pq.Error{Code: "53300"}, true},  // too_many_connections
		{&pq.Error{Code: "23505"}, false}, // unique_violation
		{&pq.Error{Code: "42P01"}, false}, // undefined_table
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{io.ErrUnexpectedEOF, true},
		{driver.ErrBadConn, true},
		{errors.New("sql: Scan error"), false},
	} {
		if got := isConnectionError(tt.err); got != tt.want {
			t.Errorf("isConnectionError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestPostgresUnreachable: a database that is not there is
// errStoreUnavailable, at start-up and on a request.
func TestPostgresUnreachable(t *testing.T) {
	t.Parallel()
	cfg, _, err := parsePostgresURL("postgres://u:p@127.0.0.1:1/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	_, err = openPostgres(t.Context(), cfg, defaultPgOptions())
	if !errors.Is(err, errStoreUnavailable) {
		t.Errorf("open: err = %v, want errStoreUnavailable", err)
	}
	// A store that was ready before the database went away.
	s, err := newPostgres(cfg, defaultPgOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.ready.Store(true)
	if _, err := listAll(t.Context(), s, "u"); !errors.Is(err, errStoreUnavailable) {
		t.Errorf("list: err = %v, want errStoreUnavailable", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, errStoreUnavailable) {
		t.Errorf("ping: err = %v, want errStoreUnavailable", err)
	}
	h := newServer(discardLogger(), s, testCORS, nil, nil)
	for _, ep := range endpoints {
		target := ep.target("u", missingID)
		rec := serve(t, h, ep.method, target, ep.body)
		wantDetail(t, rec, http.StatusServiceUnavailable, "Database unavailable, try again shortly")
		if rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", ep.method, target)
		}
	}
	decodeAs[struct{ Detail string }](t, serve(t, h, "GET", "/readyz", ""), http.StatusServiceUnavailable)
}

// TestPostgresSurvivesKilledConnections: when the server drops every
// connection of the pool (a restart, a Neon compute suspending), the next
// request reconnects instead of failing.
func TestPostgresSurvivesKilledConnections(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	s := openTestPostgres(t, raw)
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	var pid int
	if err := s.db.QueryRow(`SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	admin := openTestPostgres(t, raw)
	var killed bool
	if err := admin.db.QueryRow(`SELECT pg_terminate_backend($1)`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate backend %d: %v, %v", pid, killed, err)
	}
	for range defaultPgMaxConns + 1 { // every pooled connection, whichever is dead
		wantSameTask(t, mustGet(t, s, user, task.ID), task)
	}
}

// TestPostgresFallsBackToUnnamedStatements: when the server does not know
// a prepared statement (as behind a transaction-mode pooler), the request
// still succeeds, and the store stops preparing.
func TestPostgresFallsBackToUnnamedStatements(t *testing.T) {
	t.Parallel()
	s := openTestPostgresWith(t, testPostgresURL(t, "TEST_DATABASE_URL"), func(o *pgOptions) {
		o.Prepare = true
		o.MaxConns, o.MaxIdleConns = 1, 1 // so DEALLOCATE reaches the statements' session
	})
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	if _, err := s.db.ExecContext(t.Context(), "DEALLOCATE ALL"); err != nil {
		t.Fatal(err)
	}
	wantSameTask(t, mustGet(t, s, user, task.ID), task)
	if !s.unprepared.Load() {
		t.Error("the store did not switch to unnamed statements")
	}
	if tasks, err := listAll(t.Context(), s, user); err != nil || len(tasks) != 1 {
		t.Errorf("list after the fallback: %v, %v", tasks, err)
	}
}

// ---------------------------------------------------------------------------
// Outages

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
	goWait(&p.wg, p.acceptLoop)
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
		goWait(&p.wg, func() { p.pipe(server, client) })
		goWait(&p.wg, func() { p.pipe(client, server) })
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
	h := newServer(discardLogger(), store, testCORS, nil, nil)
	user := newUserID(t)
	task := decodeAs[testTask](t, serve(t, h, "POST", "/api/"+user+"/tasks", `{"title": "kept", "description": "intact"}`), http.StatusCreated)
	limit := opts.Timeout + 500*time.Millisecond // scheduling slack on a busy machine

	for _, fault := range []struct {
		name string
		mode proxyMode
	}{{"stalled", proxyStall}, {"cut", proxyCut}} {
		proxy.set(fault.mode)
		for _, ep := range endpoints {
			target := ep.target(user, task.ID)
			start := time.Now()
			rec := serve(t, h, ep.method, target, ep.body)
			took := time.Since(start)
			wantDetail(t, rec, http.StatusServiceUnavailable, "Database unavailable, try again shortly")
			if rec.Header().Get("Retry-After") == "" {
				t.Errorf("%s: %s %s: 503 without Retry-After", fault.name, ep.method, target)
			}
			if took > limit {
				t.Errorf("%s: %s %s took %v, want at most %v", fault.name, ep.method, target, took, limit)
			}
			t.Logf("%s: %s %s: 503 after %v", fault.name, ep.method, target, took.Round(time.Millisecond))
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
