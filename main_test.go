package main

// Configuration tests, and end-to-end tests that build and start the real
// binary: start-up messages, exit codes, graceful shutdown, persistence.

import (
	"bufio"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envMap is a lookupFunc over a fixed set of variables.
func envMap(vars map[string]string) lookupFunc {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8000" || cfg.Postgres != nil || cfg.CORS.anyOrigin || !slices.Equal(cfg.CORS.origins, []string{"http://localhost:3000"}) {
		t.Errorf("defaults = %+v", cfg)
	}
	if want := (pgOptions{Timeout: 5 * time.Second, MaxConns: 20, MaxIdleConns: 20, ConnMaxIdleTime: 4 * time.Minute}); cfg.Store != want {
		t.Errorf("store defaults = %+v, want %+v", cfg.Store, want)
	}
	cfg, err = loadConfig(envMap(map[string]string{"PORT": " ", "DATABASE_URL": "", "CORS_ORIGINS": ""}))
	if err != nil || cfg.Addr != ":8000" || cfg.Postgres != nil {
		t.Errorf("empty variables should mean defaults: %+v, %v", cfg, err)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(envMap(map[string]string{
		"PORT":         "9090",
		"DATABASE_URL": "postgres://u:p@db.example/tasks?sslmode=verify-full",
		"CORS_ORIGINS": " https://app.example/ , http://localhost:5173",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":9090" || cfg.Postgres == nil || cfg.Postgres.Host != "db.example" ||
		!slices.Equal(cfg.CORS.origins, []string{"https://app.example", "http://localhost:5173"}) {
		t.Errorf("config = %+v", cfg)
	}
	cfg, err = loadConfig(envMap(map[string]string{
		"DATABASE_TIMEOUT": "2500ms", "DATABASE_MAX_CONNS": "5", "DATABASE_MAX_IDLE_TIME": "90s",
	}))
	// Idle connections follow a smaller pool unless set.
	if want := (pgOptions{Timeout: 2500 * time.Millisecond, MaxConns: 5, MaxIdleConns: 5, ConnMaxIdleTime: 90 * time.Second}); err != nil || cfg.Store != want {
		t.Errorf("store options = %+v, %v; want %+v", cfg.Store, err, want)
	}
	for _, tt := range []struct {
		url, prepare string
		want         bool
	}{
		{"postgres://u:p@db.example/tasks", "", true},
		{"postgres://u:p@ep-x-pooler.neon.tech/tasks", "", false},
		{"postgres://u:p@ep-x-pooler.neon.tech/tasks", "on", true},
		{"postgres://u:p@db.example/tasks", "off", false},
	} {
		cfg, err := loadConfig(envMap(map[string]string{"DATABASE_URL": tt.url, "DATABASE_PREPARE": tt.prepare}))
		if err != nil || cfg.Store.Prepare != tt.want {
			t.Errorf("%s with DATABASE_PREPARE=%q: prepare = %v, %v; want %v", tt.url, tt.prepare, cfg.Store.Prepare, err, tt.want)
		}
	}
	cfg, err = loadConfig(envMap(map[string]string{"DATABASE_MAX_CONNS": "5", "DATABASE_MAX_IDLE_CONNS": "20"}))
	if err != nil || cfg.Store.MaxIdleConns != 5 {
		t.Errorf("20 idle of 5 connections: %+v, %v; want 5 idle", cfg.Store, err)
	}
	cfg, err = loadConfig(envMap(map[string]string{"DATABASE_MAX_IDLE_CONNS": "0"}))
	if err != nil || cfg.Store.MaxIdleConns != 0 {
		t.Errorf("DATABASE_MAX_IDLE_CONNS=0: %+v, %v", cfg.Store, err)
	}
	cfg, err = loadConfig(envMap(map[string]string{"CORS_ORIGINS": "*"}))
	if err != nil || !cfg.CORS.anyOrigin {
		t.Errorf("CORS_ORIGINS=*: %+v, %v", cfg.CORS, err)
	}
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	t.Parallel()
	for _, vars := range []map[string]string{
		{"PORT": "http"}, {"PORT": "-1"}, {"PORT": "65536"},
		{"DATABASE_URL": "localhost:5432"},
		{"CORS_ORIGINS": "localhost:3000"}, {"CORS_ORIGINS": "http://a.example/app"},
		{"DATABASE_TIMEOUT": "5"}, {"DATABASE_TIMEOUT": "0s"}, {"DATABASE_TIMEOUT": "1m"},
		{"DATABASE_MAX_CONNS": "0"}, {"DATABASE_MAX_CONNS": "many"},
		{"DATABASE_MAX_IDLE_CONNS": "-1"},
		{"DATABASE_MAX_IDLE_TIME": "10ms"}, {"DATABASE_PREPARE": "yes"},
	} {
		if _, err := loadConfig(envMap(vars)); err == nil {
			t.Errorf("%v: no error", vars)
		} else {
			for key := range vars {
				if !strings.Contains(err.Error(), key) {
					t.Errorf("%v: error %q does not name %s", vars, err, key)
				}
			}
		}
	}
}

func TestParseDotenv(t *testing.T) {
	t.Parallel()
	got, err := parseDotenv(strings.NewReader(`
# a comment
PORT=9000
export DATABASE_URL = "postgres://u:p@h/db?sslmode=require&channel_binding=require"
CORS_ORIGINS='http://a.example, http://b.example'
EMPTY=
HASH=a#b # comment
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PORT":         "9000",
		"DATABASE_URL": "postgres://u:p@h/db?sslmode=require&channel_binding=require",
		"CORS_ORIGINS": "http://a.example, http://b.example",
		"EMPTY":        "",
		"HASH":         "a#b",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("parsed %v", got)
	}
	_, err = parseDotenv(strings.NewReader("PORT=1\nDATABASE_URL postgres://x\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("malformed line: err = %v, want one naming line 2", err)
	}
}

func TestWithDotenv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("PORT=9000\nCORS_ORIGINS=http://from-file.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup, err := withDotenv(envMap(map[string]string{"PORT": "7000"}), path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := lookup("PORT"); v != "7000" {
		t.Errorf("PORT = %q, want the real environment's 7000", v)
	}
	if v, _ := lookup("CORS_ORIGINS"); v != "http://from-file.example" {
		t.Errorf("CORS_ORIGINS = %q, want the file's", v)
	}
	if _, ok := lookup("DATABASE_URL"); ok {
		t.Error("DATABASE_URL found in neither, yet reported set")
	}
	if _, err := withDotenv(envMap(nil), filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing .env: %v", err)
	}
}

// ---------------------------------------------------------------------------
// The real binary

// buildService compiles the service into a temporary directory.
func buildService(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tasksvc")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// service is one running copy of the binary.
type service struct {
	cmd       *exec.Cmd
	base      string        // http://127.0.0.1:port
	exited    chan error    // receives cmd.Wait's result
	stderrEOF chan struct{} // closed when stderr is fully read
	mu        sync.Mutex    // guards log and changed
	log       []string      // stderr lines so far
	changed   chan struct{} // closed (and replaced) when a line arrives
}

var listeningAddr = regexp.MustCompile(`msg=listening addr=\S*:(\d+)`)

// startService starts bin in dir with only the given environment (plus PATH
// and HOME) and PORT=0, and returns once it logs that it is listening.
func startService(t *testing.T, bin, dir string, env ...string) *service {
	t.Helper()
	s := launch(t, bin, dir, env...)
	line, ok := s.waitForLine(t, listeningAddr)
	if !ok {
		t.Fatalf("service exited before listening:\n%s", s.stderr())
	}
	s.base = "http://127.0.0.1:" + listeningAddr.FindStringSubmatch(line)[1]
	return s
}

// launch starts bin and collects its stderr.
func launch(t *testing.T, bin, dir string, env ...string) *service {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "PORT=0"}, env...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &service{cmd: cmd, exited: make(chan error, 1), stderrEOF: make(chan struct{}), changed: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			s.mu.Lock()
			s.log = append(s.log, sc.Text())
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
		io.Copy(io.Discard, pipe)
		close(s.stderrEOF)
		s.exited <- cmd.Wait() // only after every read, as StderrPipe requires
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return s
}

// waitForLine returns the first stderr line matching re, waiting for it to
// be written; false if stderr closes without one.
func (s *service) waitForLine(t *testing.T, re *regexp.Regexp) (string, bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		i := slices.IndexFunc(s.log, re.MatchString)
		line, changed := "", s.changed
		if i >= 0 {
			line = s.log[i]
		}
		s.mu.Unlock()
		if i >= 0 {
			return line, true
		}
		select {
		case <-changed:
		case <-s.stderrEOF:
			s.mu.Lock()
			defer s.mu.Unlock()
			if i := slices.IndexFunc(s.log, re.MatchString); i >= 0 {
				return s.log[i], true
			}
			return "", false
		case <-timeout:
			t.Fatalf("no line matching %s within 30 s:\n%s", re, s.stderr())
		}
	}
}

func (s *service) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// wait returns the exit code once the process has exited.
func (s *service) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-s.exited:
		if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
			return exitErr.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatalf("service did not exit within 30 s\n%s", s.stderr())
		return -1
	}
}

// stop sends SIGTERM and checks the service exits 0 after logging it
// stopped.
func (s *service) stop(t *testing.T) {
	t.Helper()
	s.stopWith(t, syscall.SIGTERM)
}

func (s *service) stopWith(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit code after %v = %d, want 0\n%s", sig, code, s.stderr())
	}
	if !strings.Contains(s.stderr(), "msg=stopped") {
		t.Errorf("no 'stopped' line in the log:\n%s", s.stderr())
	}
}

// call sends one request to the running service.
func (s *service) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	code, _, got := s.callWith(t, method, path, body)
	return code, got
}

// callWith sends one request with the headers given as name, value pairs,
// and returns the status, the response headers and the body.
func (s *service) callWith(t *testing.T, method, path, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestServiceInMemory(t *testing.T) {
	t.Parallel()
	s := startService(t, buildService(t), t.TempDir())
	if !strings.Contains(s.stderr(), "level=WARN") || !strings.Contains(s.stderr(), "IN MEMORY ONLY") {
		t.Errorf("no loud warning about the memory store:\n%s", s.stderr())
	}
	if code, body := s.call(t, "POST", "/api/u/tasks", `{"title": "t"}`); code != http.StatusCreated {
		t.Errorf("POST: %d %s", code, body)
	}
	if code, body := s.call(t, "GET", "/api/u/tasks", ""); code != http.StatusOK || !strings.Contains(body, `"title":"t"`) {
		t.Errorf("GET: %d %s", code, body)
	}
	s.stopWith(t, os.Interrupt) // Ctrl-C
}

func TestServiceReadsDotenvFromWorkingDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("CORS_ORIGINS=http://from-dotenv.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startService(t, buildService(t), dir)
	req, _ := http.NewRequest("GET", s.base+"/healthz", nil)
	req.Header.Set("Origin", "http://from-dotenv.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://from-dotenv.example" {
		t.Errorf("Access-Control-Allow-Origin = %q: .env was not read", got)
	}
	s.stop(t)
}

// TestServiceRefusesToStart: bad configuration is one clear line on stderr
// and exit code 1, and never shows the password.
func TestServiceRefusesToStart(t *testing.T) {
	t.Parallel()
	bin := buildService(t)
	tests := []struct {
		name, dotenv string
		env          []string
		want         string
	}{
		{"malformed DATABASE_URL", "", []string{"DATABASE_URL=postgres://u:s3cr3t@db:port/tasks"}, "DATABASE_URL"},
		{"not a postgres URL", "", []string{"DATABASE_URL=mysql://u:s3cr3t@db/tasks"}, "DATABASE_URL"},
		{"bad PORT", "", []string{"PORT=http"}, "PORT"},
		{"bad CORS_ORIGINS", "", []string{"CORS_ORIGINS=localhost:3000"}, "CORS_ORIGINS"},
		{"malformed .env", "PORT=1\nDATABASE_URL postgres://u:s3cr3t@db/tasks\n", nil, ".env: line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.dotenv != "" {
				if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tt.dotenv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s := launch(t, bin, dir, tt.env...)
			if code := s.wait(t); code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
			errLines := errorLines(s.stderr())
			if len(errLines) != 1 || !strings.HasPrefix(errLines[0], "tasksvc: ") || !strings.Contains(errLines[0], tt.want) {
				t.Errorf("stderr error lines = %q, want one line 'tasksvc: …%s…'", errLines, tt.want)
			}
			if strings.Contains(s.stderr(), "s3cr3t") {
				t.Errorf("stderr shows the password:\n%s", s.stderr())
			}
		})
	}
}

// errorLines are the lines of stderr that are not log lines of level INFO
// or WARN: what the process said when it gave up.
func errorLines(stderr string) []string {
	var lines []string
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, "level=INFO") && !strings.Contains(line, "level=WARN") {
			lines = append(lines, line)
		}
	}
	return lines
}

// TestServicePersistsInPostgres: what a write acknowledged is there, byte
// for byte, after the process is killed and starts again.
func TestServicePersistsInPostgres(t *testing.T) {
	t.Parallel()
	dbURL := testPostgresURL(t, "TEST_DATABASE_URL")
	bin := buildService(t)
	user := newUserID(t)

	s := startService(t, bin, t.TempDir(), "DATABASE_URL="+dbURL)
	code, created := s.call(t, "POST", "/api/"+user+"/tasks", `{"title": "survives", "description": "a restart"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %s", code, created)
	}
	id := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(created)[1]
	code, toggled := s.call(t, "PATCH", "/api/"+user+"/tasks/"+id+"/complete", "")
	if code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", code, toggled)
	}
	// kill -9 right after the acknowledgement: nothing may depend on a
	// graceful stop to be kept.
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.wait(t)

	s = startService(t, bin, t.TempDir(), "DATABASE_URL="+dbURL)
	if code, got := s.call(t, "GET", "/api/"+user+"/tasks/"+id, ""); code != http.StatusOK || got != toggled {
		t.Errorf("after restart: %d %s\nwant exactly %s", code, got, toggled)
	}
	if code, got := s.call(t, "GET", "/api/"+user+"/tasks", ""); code != http.StatusOK || got != "["+toggled+"]" {
		t.Errorf("list after restart: %d %s", code, got)
	}
	s.stop(t)
}

// TestServiceFinishesRequestsInFlight: SIGTERM lets a request that is
// waiting on the database finish and answer before the process exits 0.
func TestServiceFinishesRequestsInFlight(t *testing.T) {
	t.Parallel()
	dbURL := testPostgresURL(t, "TEST_DATABASE_URL")
	user := newUserID(t)
	s := startService(t, buildService(t), t.TempDir(), "DATABASE_URL="+dbURL)
	_, created := s.call(t, "POST", "/api/"+user+"/tasks", `{"title": "t"}`)
	id := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(created)[1]

	// Hold the row lock, so the toggle below blocks inside PostgreSQL.
	db := openTestPostgres(t, dbURL).db
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var lockHolder int
	if err := tx.QueryRow(`SELECT pg_backend_pid() FROM task WHERE id = $1 FOR UPDATE`, id).Scan(&lockHolder); err != nil {
		t.Fatal(err)
	}
	type result struct {
		code int
		body string
	}
	answered := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("PATCH", s.base+"/api/"+user+"/tasks/"+id+"/complete", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- result{0, err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- result{resp.StatusCode, string(b)}
	}()
	waitForLockWaiter(t, db, lockHolder)

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.waitForLine(t, regexp.MustCompile("shutting down")); !ok {
		t.Fatalf("no shutdown line:\n%s", s.stderr())
	}
	if err := tx.Commit(); err != nil { // let the toggle through
		t.Fatal(err)
	}
	if r := <-answered; r.code != http.StatusOK || !strings.Contains(r.body, `"is_completed":true`) {
		t.Errorf("request in flight answered %d %s, want 200 and the toggled task", r.code, r.body)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit code = %d, want 0\n%s", code, s.stderr())
	}
}

// waitForLockWaiter returns once some session waits for a lock that the
// session with pid holds. It polls pg_stat_activity: the wait happens in
// another process, so there is no event to wait on.
func waitForLockWaiter(t *testing.T, db *sql.DB, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var waiting bool
		err := db.QueryRowContext(t.Context(),
			`SELECT count(*) > 0 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, pid).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
	}
	t.Fatal("the request never reached PostgreSQL")
}

// BenchmarkMiddlewareOverhead measures what newServer adds around the bare
// mux (JSON 404/405 handling with its second route match, CORS, access log)
// for one GET of a task on the memory store, and, with TEST_DATABASE_URL
// set, the same GET on PostgreSQL for scale. Compare the sub-benchmarks as
// ratios: go test -run '^$' -bench MiddlewareOverhead -count 8 .
func BenchmarkMiddlewareOverhead(b *testing.B) {
	mem := newMemStore()
	task, _, err := mem.CreateTask(b.Context(), "u", newTask{Title: "t"}, idempotencyKey{})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, rt := range routes(discardLogger(), mem, nil) {
		mux.Handle(rt.pattern, rt.handler)
	}
	cases := []struct {
		name, target string
		h            http.Handler
	}{
		{"mux", "/api/u/tasks/" + task.ID, mux},
		{"muxErrorsAsJSON", "/api/u/tasks/" + task.ID, muxErrorsAsJSON(discardLogger(), mux)},
		{"newServer", "/api/u/tasks/" + task.ID, newServer(discardLogger(), mem, testCORS, nil)},
	}
	if raw := os.Getenv("TEST_DATABASE_URL"); raw != "" {
		pg := openTestPostgres(b, raw)
		user := newUserID(b)
		task, _, err := pg.CreateTask(b.Context(), user, newTask{Title: "t"}, idempotencyKey{})
		if err != nil {
			b.Fatal(err)
		}
		cases = append(cases, struct {
			name, target string
			h            http.Handler
		}{"newServerOnPostgres", "/api/" + user + "/tasks/" + task.ID, newServer(discardLogger(), pg, testCORS, nil)})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			benchServe(b, c.h, httptest.NewRequest("GET", c.target, nil))
		})
	}
}

// TestRequestID: every response carries an X-Request-ID: the caller's when
// it is safe to echo, a fresh one otherwise.
func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	seen := make(map[string]bool)
	for _, tt := range []struct{ sent, want string }{
		{"", ""},
		{"abc-123_x.y:z", "abc-123_x.y:z"},
		{"b64+/=@host", "b64+/=@host"},
		{strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{strings.Repeat("a", 129), ""},
		{"has space", ""},
		{"<script>", ""},
		{"é", ""},
	} {
		for _, target := range []string{"/api/u/tasks", "/no/such/route", "/api/u/tasks/not-a-uuid"} {
			var header []string
			if tt.sent != "" {
				header = []string{"X-Request-ID", tt.sent}
			}
			got := serve(t, h, "GET", target, "", header...).Header().Get("X-Request-ID")
			switch {
			case tt.want != "" && got != tt.want:
				t.Errorf("%s with %q: X-Request-ID = %q, want it echoed", target, tt.sent, got)
			case tt.want == "" && (got == "" || got == tt.sent || !isSaneRequestID(got)):
				t.Errorf("%s with %q: X-Request-ID = %q, want a fresh one", target, tt.sent, got)
			case tt.want == "" && seen[got]:
				t.Errorf("%s: X-Request-ID %q was given twice", target, got)
			}
			seen[got] = true
		}
	}
}

// TestAccessLog: one line per request with method, route pattern, status,
// duration and request id, and neither the user id nor the task's text.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := newServer(log, newMemStore(), testCORS, nil)
	rec := serve(t, h, "POST", "/api/alice@example.com/tasks", `{"title": "secret plan"}`, "X-Request-ID", "req-1")
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST: %d", rec.Code)
	}
	serve(t, h, "GET", "/nowhere", "", "X-Request-ID", "req-2")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want one per request:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		`msg=request method=POST route="POST /api/{user_id}/tasks" status=201 duration=`,
		`msg=request method=GET route="" status=404 duration=`,
	} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], fmt.Sprintf("request_id=req-%d", i+1)) {
			t.Errorf("line %d = %s\nwant %s… request_id=req-%d", i, lines[i], want, i+1)
		}
	}
	if strings.Contains(buf.String(), "alice") || strings.Contains(buf.String(), "secret") {
		t.Errorf("the log shows a user id or task text:\n%s", buf.String())
	}
}

// TestErrorLoggedOnceWithCause: an internal error is logged once, with its
// cause and the request id, and the client sees neither.
func TestErrorLoggedOnceWithCause(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	store := &stubStore{err: errors.New("disk on fire")}
	rec := serve(t, newServer(log, store, testCORS, nil), "GET", "/api/u/tasks", "", "X-Request-ID", "req-9")
	wantDetail(t, rec, http.StatusInternalServerError, "Internal Server Error")
	if strings.Contains(rec.Body.String(), "fire") {
		t.Errorf("the response shows the cause: %s", rec.Body.String())
	}
	if n := strings.Count(buf.String(), "disk on fire"); n != 1 {
		t.Errorf("cause logged %d times, want once:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), `level=ERROR msg="internal error" method=GET route="GET /api/{user_id}/tasks" request_id=req-9`) {
		t.Errorf("error line lacks the route or request id:\n%s", buf.String())
	}
}

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
	}{{8 << 10, http.StatusOK}, {64 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
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

// TestPanicAfterHeadersAbortsTheResponse: a panic once part of an answer is
// out cannot become a 500; the connection is aborted, so the client sees a
// broken response, and the request still gets its access-log line. The
// same holds for http.ErrAbortHandler.
func TestPanicAfterHeadersAbortsTheResponse(t *testing.T) {
	t.Parallel()
	for _, p := range []any{"boom", http.ErrAbortHandler} {
		var buf syncBuffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		srv := httptest.NewServer(withLogging(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`[{"id": "1"},`))
			w.(http.Flusher).Flush()
			panic(p)
		})))
		resp, err := srv.Client().Get(srv.URL)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		srv.Close() // waits for the handler, and so for its log lines
		if err == nil {
			t.Errorf("panic(%v) after the headers: the client read a complete response", p)
		}
		if !strings.Contains(buf.String(), "msg=request") || !strings.Contains(buf.String(), "aborted=true") {
			t.Errorf("panic(%v): no access line marked aborted:\n%s", p, buf.String())
		}
	}
}

// syncBuffer is a strings.Builder safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
