package main

// The helpers the test files share: the test server and the wire types it
// answers with, the one table of task endpoints, the stores (fakes, and the
// PostgreSQL test database with TestMain's clean-up), and the harness that
// builds and runs the real binary. A helper that serves one file's tests
// stays in that file.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
)

// ---------------------------------------------------------------------------
// The test server and the wire

// testTask is the wire form of a task, declared here so that renaming a JSON
// field in the service breaks these tests.
type testTask struct {
	ID          string  `json:"id"`
	UserID      string  `json:"user_id"`
	Title       string  `json:"title"`
	Description *string `json:"description"`
	IsCompleted bool    `json:"is_completed"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

// testItem is one 422 item on the wire.
type testItem struct {
	Type string         `json:"type"`
	Loc  []any          `json:"loc"`
	Msg  string         `json:"msg"`
	Ctx  map[string]any `json:"ctx"`
}

// where renders loc as "body.title", "path.user_id", "body.13".
func (it testItem) where() string {
	parts := make([]string, len(it.Loc))
	for i, p := range it.Loc {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

// uuidPattern and timePattern are the contract's forms of an id and a
// timestamp on the wire.
var (
	uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timePattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
)

// missingID is a well-formed task id that no test ever creates.
const missingID = "0192f1c4-7a1e-7c3e-9d5a-3b2f1e0c9a11"

// discardLogger is the log of servers whose log no test reads.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testCORS is the default CORS policy, as run has it without CORS_ORIGINS.
var testCORS = corsPolicy{origins: []string{defaultCORSOrigins}}

// newTestServer returns the full HTTP API on a fresh in-memory store.
func newTestServer(t testing.TB) http.Handler {
	t.Helper()
	return newServer(discardLogger(), newMemStore(defaultMaxTasks), testCORS, nil, nil)
}

// serve sends one request and returns the recorded response. An empty body
// sends no body at all.
func serve(t testing.TB, h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body == "" {
		req.Body = http.NoBody
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1]) // a name given twice sends two lines
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decodeAs checks the status and JSON content type, then decodes the body.
func decodeAs[T any](t testing.TB, rec *httptest.ResponseRecorder, status int) T {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

// wantDetail checks an error response whose detail is a plain string.
func wantDetail(t testing.TB, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	got := decodeAs[struct{ Detail string }](t, rec, status)
	if got.Detail != want {
		t.Errorf("detail = %q, want %q", got.Detail, want)
	}
}

// wantItems checks a 422 response: one item per entry of want, each given
// as "type@loc", in order.
func wantItems(t testing.TB, rec *httptest.ResponseRecorder, want ...string) []testItem {
	t.Helper()
	got := decodeAs[struct{ Detail []testItem }](t, rec, http.StatusUnprocessableEntity).Detail
	var gotKeys []string
	for _, it := range got {
		gotKeys = append(gotKeys, it.Type+"@"+it.where())
		if it.Msg == "" {
			t.Errorf("item %s has no msg", it.Type)
		}
	}
	if !slices.Equal(gotKeys, want) {
		t.Errorf("422 items = %q, want %q", gotKeys, want)
	}
	return got
}

// createTask posts body for userPath (already escaped) and returns the task.
func createTask(t testing.TB, h http.Handler, userPath, body string) testTask {
	t.Helper()
	return decodeAs[testTask](t, serve(t, h, "POST", "/api/"+userPath+"/tasks", body), http.StatusCreated)
}

// getTask reads the task id of userPath (already escaped).
func getTask(t testing.TB, h http.Handler, userPath, id string) testTask {
	t.Helper()
	return decodeAs[testTask](t, serve(t, h, "GET", "/api/"+userPath+"/tasks/"+id, ""), http.StatusOK)
}

// listTasks lists the tasks of userPath (already escaped).
func listTasks(t testing.TB, h http.Handler, userPath string) []testTask {
	t.Helper()
	return decodeAs[[]testTask](t, serve(t, h, "GET", "/api/"+userPath+"/tasks", ""), http.StatusOK)
}

// wantWellFormed checks the invariants of every task a response carries.
func wantWellFormed(t testing.TB, task testTask) {
	t.Helper()
	if !uuidPattern.MatchString(task.ID) {
		t.Errorf("id %q is not a lowercase hyphenated UUID", task.ID)
	}
	if !timePattern.MatchString(task.CreatedAt) || !timePattern.MatchString(task.UpdatedAt) {
		t.Errorf("timestamps %q, %q are not RFC 3339 UTC with microseconds", task.CreatedAt, task.UpdatedAt)
	}
}

// equalTasks reports whether two tasks on the wire are the same in every
// field, the description's text compared rather than its pointer.
func equalTasks(a, b testTask) bool {
	da, db := a.Description, b.Description
	a.Description, b.Description = nil, nil
	return a == b && (da == nil) == (db == nil) && (da == nil || *da == *db)
}

// show renders a task for a failure message, cut short: fuzzed text can be
// long.
func show(task testTask) string {
	b, _ := json.Marshal(task)
	return fmt.Sprintf("%.300s", b)
}

// ptr points to a copy of v, for optional fields.
func ptr[T any](v T) *T { return &v }

// linkPattern reads a Link header's next-page URL.
var linkPattern = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

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

// ---------------------------------------------------------------------------
// Every task endpoint

// endpoint is one task endpoint: its method and route pattern, with
// {user_id} and {task_id} as the mux and openapi.json write them, the status
// it answers on success, and a valid body (none where it takes none).
type endpoint struct {
	method, pattern string
	status          int
	body            string
}

// endpoints is every task endpoint: the one table that the tests covering
// them all read, so none can be left out of one. FuzzPathParams picks a row
// by index and testdata/fuzz/FuzzPathParams holds inputs that name rows:
// add new rows at the end.
var endpoints = []endpoint{
	{"GET", "/api/{user_id}/tasks", http.StatusOK, ""},
	{"POST", "/api/{user_id}/tasks", http.StatusCreated, `{"title": "t"}`},
	{"GET", "/api/{user_id}/tasks/{task_id}", http.StatusOK, ""},
	{"PUT", "/api/{user_id}/tasks/{task_id}", http.StatusOK, `{"title": "t"}`},
	{"DELETE", "/api/{user_id}/tasks/{task_id}", http.StatusOK, ""},
	{"PATCH", "/api/{user_id}/tasks/{task_id}/complete", http.StatusOK, ""},
	{"GET", "/api/{user_id}/tasks/changes", http.StatusOK, ""},
}

// op names the endpoint as openapi.json and the mux do: "METHOD /pattern".
func (e endpoint) op() string { return e.method + " " + e.pattern }

// target is the endpoint's path for a user's task, each given as it is to
// stand in the path (escaped, if it must be). An endpoint that does not act
// on one task ignores taskID.
func (e endpoint) target(userID, taskID string) string {
	return concretePath(e.pattern, userID, taskID)
}

// oneTask reports whether the endpoint acts on one task.
func (e endpoint) oneTask() bool { return strings.Contains(e.pattern, "{task_id}") }

// concretePath fills a documented path's parameters with real values.
func concretePath(path, userID, taskID string) string {
	return strings.NewReplacer("{user_id}", userID, "{task_id}", taskID).Replace(path)
}

// ---------------------------------------------------------------------------
// Stores

// stubStore fails every call with err (or panics with it, if panics is set)
// and counts the calls.
type stubStore struct {
	err    error
	panics bool
	calls  atomic.Int32
}

var _ taskStore = (*stubStore)(nil)

func (s *stubStore) fail() error {
	s.calls.Add(1)
	if s.panics {
		panic(s.err)
	}
	return s.err
}

func (s *stubStore) ListTasks(context.Context, string, listQuery) ([]Task, error) {
	return nil, s.fail()
}
func (s *stubStore) CreateTask(context.Context, string, newTask, idempotencyKey) (Task, bool, error) {
	return Task{}, false, s.fail()
}
func (s *stubStore) GetTask(context.Context, string, string) (Task, error) { return Task{}, s.fail() }
func (s *stubStore) Changes(context.Context, string, changesQuery) (changesPage, error) {
	return changesPage{}, s.fail()
}
func (s *stubStore) UpdateTask(context.Context, string, string, taskUpdate) (Task, error) {
	return Task{}, s.fail()
}
func (s *stubStore) DeleteTask(context.Context, string, string, ifMatch) error { return s.fail() }
func (s *stubStore) ToggleTask(context.Context, string, string, ifMatch, idempotencyKey) (Task, bool, error) {
	return Task{}, false, s.fail()
}
func (s *stubStore) Ping(context.Context) error              { return s.fail() }
func (s *stubStore) Subscribe(string) (*subscription, error) { return nil, s.fail() }
func (s *stubStore) Close() error                            { return nil }

// onEachStore runs test on a server over the memory store and, with
// TEST_DATABASE_URL set, over PostgreSQL, each with a user id of its own.
func onEachStore(t *testing.T, test func(t *testing.T, h http.Handler, user string)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, newTestServer(t), newUserID(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		s := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
		test(t, newServer(discardLogger(), s, testCORS, nil, nil), newUserID(t))
	})
}

// onEachStoreWith runs test on a memory store and, with TEST_DATABASE_URL
// set, a PostgreSQL store, both made with the options set gives them (the
// memory store takes MaxTasks and TombstoneWindow from them).
func onEachStoreWith(t *testing.T, set func(*pgOptions), test func(t *testing.T, s taskStore)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		opts := defaultPgOptions()
		set(&opts)
		m := newMemStore(opts.MaxTasks)
		m.tombstones = int64(opts.TombstoneWindow)
		test(t, m)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		test(t, openTestPostgresWith(t, testPostgresURL(t, "TEST_DATABASE_URL"), set))
	})
}

// mustCreate creates a task in s, without an idempotency key, and fails
// the test if it cannot.
func mustCreate(t testing.TB, s taskStore, userID string, in newTask) Task {
	t.Helper()
	task, _, err := s.CreateTask(t.Context(), userID, in, idempotencyKey{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return task
}

// mustGet reads a task from s and fails the test if it cannot.
func mustGet(t *testing.T, s taskStore, userID, id string) Task {
	t.Helper()
	task, err := s.GetTask(t.Context(), userID, id)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	return task
}

// wantSameTask compares every field, timestamps to the microsecond.
func wantSameTask(t *testing.T, got, want Task) {
	t.Helper()
	gd, wd := got.Description, want.Description
	sameDescription := (gd == nil) == (wd == nil) && (gd == nil || *gd == *wd)
	if got.ID != want.ID || got.UserID != want.UserID || got.Title != want.Title || !sameDescription ||
		got.IsCompleted != want.IsCompleted || !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("task = %s, want %s", describe(got), describe(want))
	}
}

// describe renders a task for a failure message, as the service writes it.
func describe(t Task) string {
	b, _ := t.MarshalJSON()
	return string(b)
}

// listAll reads a user's whole list from the store, a page at a time.
func listAll(ctx context.Context, s taskStore, user string) ([]Task, error) {
	return listPages(ctx, s, user, listQuery{})
}

// listPages reads every task q selects (from q.After on), a page of at
// most maxPageLimit at a time.
func listPages(ctx context.Context, s taskStore, user string, q listQuery) ([]Task, error) {
	q.Limit = maxPageLimit
	tasks := []Task{}
	for {
		page, err := s.ListTasks(ctx, user, q)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, page...)
		if len(page) < q.Limit {
			return tasks, nil
		}
		last := page[len(page)-1]
		q.After = &listCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
}

// testRunID makes this run's user ids unique, so runs against the same
// database never see each other's rows.
var testRunID = "test-" + rand.Text()[:12]

// newUserID returns a user id no other test or run uses.
func newUserID(t testing.TB) string {
	t.Helper()
	return testRunID + "-" + rand.Text()[:10]
}

// testPostgresURL returns the URL in envVar, or skips the test when it is
// unset.
func testPostgresURL(t testing.TB, envVar string) string {
	t.Helper()
	raw := os.Getenv(envVar)
	if raw == "" {
		t.Skipf("%s is not set", envVar)
	}
	return raw
}

// openPostgres connects with cfg and applies the embedded schema once; a
// database that cannot be reached is an error.
func openPostgres(ctx context.Context, cfg pq.Config, opts pgOptions) (*pgStore, error) {
	s, err := newPostgres(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := s.applySchema(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openTestPostgres opens a pgStore that is closed when the test ends. A
// database that cannot be reached fails the test.
func openTestPostgres(t testing.TB, raw string) *pgStore {
	t.Helper()
	return openTestPostgresWith(t, raw, func(*pgOptions) {})
}

// openTestPostgresWith is openTestPostgres with options changed by set.
func openTestPostgresWith(t testing.TB, raw string, set func(*pgOptions)) *pgStore {
	t.Helper()
	cfg, _, err := parsePostgresURL(raw)
	if err != nil {
		t.Fatalf("test database URL: %v", err)
	}
	opts := defaultPgOptions()
	// Smaller pools than the service's: many tests hold one at once, and
	// the server allows 100 connections in all.
	opts.MaxConns, opts.MaxIdleConns = 8, 8
	opts.ListenURL = listenURL(raw, "")
	set(&opts)
	s, err := openPostgres(t.Context(), cfg, opts)
	if err != nil {
		t.Fatalf("a test database URL is set but PostgreSQL cannot be used: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestMain deletes this run's rows from the test database once every test
// is done (tests run in parallel, so none may clean up alone).
func TestMain(m *testing.M) {
	code := m.Run()
	for _, envVar := range []string{"TEST_DATABASE_URL", "TEST_PGBOUNCER_URL"} {
		if raw := os.Getenv(envVar); raw != "" {
			if err := deleteTestRows(raw); err != nil {
				fmt.Fprintf(os.Stderr, "clean up test rows on %s: %v\n", envVar, err)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// deleteTestRows deletes the rows of this run's user ids (testRunID) from
// the database at raw.
func deleteTestRows(raw string) error {
	cfg, _, err := parsePostgresURL(raw)
	if err != nil {
		return err
	}
	s, err := openPostgres(context.Background(), cfg, defaultPgOptions())
	if err != nil {
		return err
	}
	defer s.Close()
	for _, table := range []string{"task", "idempotency_key", "task_user", "task_tombstone"} {
		if _, err := s.db.Exec(`DELETE FROM `+table+` WHERE user_id LIKE $1`, testRunID+"%"); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// The real binary

// buildService compiles the service into a temporary directory, with any
// flags given to go build.
func buildService(t *testing.T, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tasksvc")
	args := append(append([]string{"build"}, flags...), "-o", bin, ".")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
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

// listeningAddr reads the port from the service's "listening" log line.
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
	return launchCmd(t, exec.Command(bin), dir, env...)
}

// startOnSocket starts bin as systemd's socket activation would: with the
// listening socket ln as file descriptor 3, LISTEN_FDS=1 and LISTEN_PID set
// to the process's own pid (by a shell that then execs bin, keeping its
// pid). It returns once the service logs that it listens.
func startOnSocket(t *testing.T, bin string, ln *net.TCPListener, env ...string) *service {
	t.Helper()
	f, err := ln.File() // a duplicate, for the child
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0"`, bin)
	cmd.ExtraFiles = []*os.File{f}
	s := launchCmd(t, cmd, t.TempDir(), env...)
	if _, ok := s.waitForLine(t, regexp.MustCompile(`msg=listening .*inherited_socket=true`)); !ok {
		t.Fatalf("service exited before listening on the inherited socket:\n%s", s.stderr())
	}
	s.base = "http://" + ln.Addr().String()
	return s
}

// launchCmd starts cmd, the binary, in dir with only the given environment
// (plus PATH, HOME and PORT=0), and collects its stderr.
func launchCmd(t *testing.T, cmd *exec.Cmd, dir string, env ...string) *service {
	t.Helper()
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

// stderr is what the service wrote to stderr so far.
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
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
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

// stopWith is stop with another signal.
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

// waitReady returns once /readyz answers 200. The service may listen before
// its store is ready (it retries a database that is still waking), and there
// is no event to wait on, so this polls; each poll is one round trip.
func waitReady(t *testing.T, s *service) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	eventually(t, 30*time.Second, "ready", func() bool {
		resp, err := client.Get(s.base + "/readyz")
		if err != nil {
			t.Fatalf("readyz: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
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

// wantRefusedStart checks a start-up the service refused, what being the
// configuration it was given: exit code 1; on stderr, besides the log, one
// line, which starts with prefix and holds want; and nowhere the password
// s3cr3t that the refused configurations carry.
func wantRefusedStart(t *testing.T, s *service, what, prefix, want string) {
	t.Helper()
	if code := s.wait(t); code != 1 {
		t.Errorf("%s: exit code %d, want 1", what, code)
	}
	lines := errorLines(s.stderr())
	if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) || !strings.Contains(lines[0], want) {
		t.Errorf("%s: stderr error lines %q, want one line '%s…%s…'", what, lines, prefix, want)
	}
	if strings.Contains(s.stderr(), "s3cr3t") {
		t.Errorf("%s: stderr shows the password:\n%s", what, s.stderr())
	}
}

// goWait runs f in a goroutine that wg waits for: sync.WaitGroup.Go, which
// needs Go 1.25 (go.mod allows 1.24).
func goWait(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}

// startNonReader sends GET target to addr from a client that never reads
// its answer, with a small receive buffer so that the server's writes block
// soon. The connection is closed when the test ends.
func startNonReader(t testing.TB, addr, target string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: tasksvc\r\n\r\n", target); err != nil {
		t.Fatal(err)
	}
	return conn
}

// serveVia sends one request to a running test server and records the
// answer.
func serveVia(t testing.TB, srv *httptest.Server, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rec := httptest.NewRecorder()
	rec.Code = resp.StatusCode
	maps.Copy(rec.Header(), resp.Header)
	if _, err := io.Copy(rec.Body, resp.Body); err != nil {
		t.Fatal(err)
	}
	return rec
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

// readFile returns a file of the repository, named with slashes.
func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
