package main

// End-to-end tests: each builds the real binary and starts it: start-up
// messages, exit codes, the command line, graceful shutdown, persistence
// (kill -9 included), a database that is late or refuses, and
// authentication as configured from the environment.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

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
	_, header, _ := s.callWith(t, "GET", "/healthz", "", "Origin", "http://from-dotenv.example")
	if got := header.Get("Access-Control-Allow-Origin"); got != "http://from-dotenv.example" {
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
		{"missing sslrootcert", "", []string{"DATABASE_URL=postgres://u:s3cr3t@127.0.0.1:1/tasks?sslmode=verify-full&sslrootcert=/nonexistent/root.crt"}, "sslrootcert"},
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
			wantRefusedStart(t, s, tt.name, "tasksvc: ", tt.want)
		})
	}
}

// TestBinaryFlags: the real binary's -version agrees with the build
// information `go version -m` reads from it, -h lists the variables, and
// both exit 0 without serving; a wrong flag exits 2.
func TestBinaryFlags(t *testing.T) {
	t.Parallel()
	bin := buildService(t)
	// -version is checked on a build that records the VCS revision when it
	// can (in a clone; not in a git worktree), whatever GOFLAGS says.
	versioned := buildService(t, "-buildvcs=true")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	runBin := func(bin string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		var out, errOut bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		cmd.Env = []string{"PORT=http"} // would refuse to start: the flags must exit first
		err := cmd.Run()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return out.String(), errOut.String(), exitErr.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), 0
	}

	stdout, stderr, code := runBin(versioned, "-version")
	if code != 0 || stderr != "" {
		t.Errorf("-version: exit %d, stderr %q", code, stderr)
	}
	meta, err := exec.CommandContext(ctx, "go", "version", "-m", versioned).Output()
	if err != nil {
		t.Fatal(err)
	}
	// go version -m prints "\tmod\ttasksvc\t<version>" and "\tbuild\tvcs.revision=…".
	version := regexp.MustCompile(`(?m)^\tmod\ttasksvc\t(\S+)`).FindSubmatch(meta)
	if version == nil {
		t.Fatalf("go version -m shows no main module:\n%s", meta)
	}
	want := []string{"tasksvc " + string(version[1])}
	for _, m := range regexp.MustCompile(`(?m)^\tbuild\t(vcs\.(?:revision|time|modified)=\S+)$`).FindAllSubmatch(meta, -1) {
		want = append(want, string(m[1]))
	}
	for _, line := range want {
		if !strings.Contains(stdout, line+"\n") {
			t.Errorf("-version output %q lacks %q (from go version -m)", stdout, line)
		}
	}

	stdout, stderr, code = runBin(bin, "-h")
	if code != 0 || stderr != "" {
		t.Errorf("-h: exit %d, stderr %q", code, stderr)
	}
	for _, name := range variablesRead(t) {
		if !strings.Contains(stdout, "  "+name+" ") {
			t.Errorf("-h does not list %s:\n%s", name, stdout)
		}
	}

	stdout, stderr, code = runBin(bin, "-bogus")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "-bogus") {
		t.Errorf("-bogus: exit %d, stdout %q, stderr %q; want 2, nothing, the flag named", code, stdout, stderr)
	}
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
	eventually(t, 30*time.Second, "the request reaches PostgreSQL", func() bool {
		var waiting bool
		err := db.QueryRowContext(t.Context(),
			`SELECT count(*) > 0 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, pid).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		return waiting
	})
}

// ---------------------------------------------------------------------------
// kill -9 under load

// createAttempt is one POST the crash test sent, and what came of it.
type createAttempt struct {
	title       string
	description *string
	status      int    // 0: no answer
	body        []byte // the answer's body, when one came
	err         error  // why there was no (whole) answer
}

// acknowledged reports whether the service answered 201: from then on the
// task must survive anything.
func (a *createAttempt) acknowledged() bool { return a.status == http.StatusCreated }

// refused reports whether the request never reached the service (it was
// sent after the kill), as opposed to being cut off in flight.
func (a *createAttempt) refused() bool { return errors.Is(a.err, syscall.ECONNREFUSED) }

// newCreateAttempt gives worker w's i-th create a title no other attempt
// has, so any task found after the restart can be matched to its request.
// The text mixes scripts, emoji (with a ZWJ sequence), combining marks and
// escaping hazards, so "intact" means more than ASCII round-tripping.
func newCreateAttempt(w, i int) *createAttempt {
	a := &createAttempt{title: fmt.Sprintf("crash w%02d #%05d — naïve 漢字 👩‍💻 e\u0301 \"q\" \\", w, i)}
	if i%4 != 0 { // every fourth has no description
		a.description = ptr(fmt.Sprintf("desc %d/%d: Ünïcödé 😀 ‮rtl‬ %s", w, i, strings.Repeat("ß", i%64)))
	}
	return a
}

func (a *createAttempt) send(client *http.Client, url string) {
	body, err := json.Marshal(map[string]any{"title": a.title, "description": a.description})
	if err != nil {
		panic(err) // strings and nil only: cannot fail
	}
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		a.err = err
		return
	}
	defer resp.Body.Close()
	a.status = resp.StatusCode
	a.body, a.err = io.ReadAll(resp.Body)
}

// TestServicePersistsAcrossSIGKILLUnderLoad: with creates streaming in from
// 16 clients, kill -9 loses no task that got a 201: after a restart on the
// same database each one reads back exactly as its 201 showed it. Creates
// that got no answer may or may not exist, but any that exists is intact.
func TestServicePersistsAcrossSIGKILLUnderLoad(t *testing.T) {
	t.Parallel()
	dbURL := testPostgresURL(t, "TEST_DATABASE_URL")
	openTestPostgres(t, dbURL) // fails now, rather than timing out below, if PostgreSQL is down
	bin := buildService(t)
	user := newUserID(t)
	const (
		workers   = 16
		killAfter = 300 // acknowledged creates before the kill
	)

	s := startService(t, bin, t.TempDir(), "DATABASE_URL="+dbURL)
	waitReady(t, s)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var (
		mu       sync.Mutex // guards attempts
		attempts []*createAttempt
		acked    atomic.Int32
		enough   = make(chan struct{}) // closed at the killAfter-th 201
		stop     = make(chan struct{}) // closed after the kill
		wg       sync.WaitGroup
	)
	for w := range workers {
		goWait(&wg, func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := newCreateAttempt(w, i)
				a.send(client, s.base+"/api/"+user+"/tasks")
				mu.Lock()
				attempts = append(attempts, a)
				mu.Unlock()
				if a.acknowledged() && acked.Add(1) == killAfter {
					close(enough)
				}
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(time.Minute):
	}
	// The workers are still sending: the kill lands mid-load.
	killErr := s.cmd.Process.Kill()
	close(stop)
	wg.Wait()
	if killErr != nil {
		t.Fatal(killErr)
	}
	s.wait(t)
	if n := acked.Load(); n < killAfter {
		t.Fatalf("only %d creates acknowledged within a minute, want %d before the kill\n%s", n, killAfter, s.stderr())
	}

	s = startService(t, bin, t.TempDir(), "DATABASE_URL="+dbURL)
	waitReady(t, s)
	code, listed := s.call(t, "GET", "/api/"+user+"/tasks", "")
	var stored []testTask
	if err := json.Unmarshal([]byte(listed), &stored); code != http.StatusOK || err != nil {
		t.Fatalf("list after restart: %d %.200s (%v)", code, listed, err)
	}
	storedByTitle := make(map[string]testTask, len(stored))
	for _, task := range stored {
		storedByTitle[task.Title] = task
	}

	var checked, lost, inFlight, refused, inFlightStored int
	for _, a := range attempts {
		switch {
		case a.acknowledged():
			checked++
			if !checkAcknowledged(t, s, user, a, storedByTitle) {
				lost++
			}
		case a.status != 0:
			t.Errorf("create %q answered %d %s, want 201 or no answer", a.title, a.status, a.body)
		case a.refused():
			refused++
		default:
			inFlight++
			if _, ok := storedByTitle[a.title]; ok {
				inFlightStored++
			}
		}
	}
	// Every stored task must come from some attempt, exactly as sent.
	sent := make(map[string]*createAttempt, len(attempts))
	for _, a := range attempts {
		sent[a.title] = a
	}
	for _, task := range stored {
		a, ok := sent[task.Title]
		if !ok {
			t.Errorf("stored task %s matches no create that was sent", show(task))
			continue
		}
		want := testTask{ID: task.ID, UserID: user, Title: a.title, Description: a.description,
			CreatedAt: task.CreatedAt, UpdatedAt: task.CreatedAt}
		if !equalTasks(task, want) {
			t.Errorf("stored task is not intact:\n got %s\nwant %s", show(task), show(want))
		}
		wantWellFormed(t, task)
	}
	if want := checked + inFlightStored; len(stored) != want {
		t.Errorf("%d tasks stored, want %d (acknowledged) + %d (unanswered but committed)", len(stored), checked, inFlightStored)
	}
	t.Logf("acknowledged %d (kill after %d), checked %d, lost %d; no answer %d: %d cut off in flight (%d of them committed), %d refused after the kill",
		acked.Load(), killAfter, checked, lost, inFlight+refused, inFlight, inFlightStored, refused)
	s.stop(t)
}

// checkAcknowledged checks that the task a 201 announced reads back, by id,
// exactly as the 201 showed it, and that the 201 showed what was sent. It
// reports whether the task is there and intact.
func checkAcknowledged(t *testing.T, s *service, user string, a *createAttempt, storedByTitle map[string]testTask) bool {
	t.Helper()
	var created testTask
	if err := json.Unmarshal(a.body, &created); err != nil || a.err != nil {
		// The 201 arrived but its body did not: the id is unknown, yet the
		// task was committed, so it must be there under its title.
		if _, ok := storedByTitle[a.title]; !ok {
			t.Errorf("create %q got a 201 (body cut short: %v) and is gone after the restart", a.title, a.err)
			return false
		}
		return true
	}
	if sent := (testTask{ID: created.ID, UserID: user, Title: a.title, Description: a.description,
		CreatedAt: created.CreatedAt, UpdatedAt: created.CreatedAt}); !equalTasks(created, sent) {
		t.Errorf("201 body %s does not show what was sent: %s", a.body, show(sent))
	}
	code, body := s.call(t, "GET", "/api/"+user+"/tasks/"+created.ID, "")
	var got testTask
	if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Errorf("acknowledged task %s lost after kill -9: GET answered %d %s", created.ID, code, body)
		return false
	}
	if !equalTasks(got, created) {
		t.Errorf("acknowledged task changed after kill -9:\n got %s\nwant %s", show(got), show(created))
		return false
	}
	return true
}

// ---------------------------------------------------------------------------
// The database at start-up

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
	wantRefusedStart(t, s, "a role that does not exist", "tasksvc: PostgreSQL at ", "no_such_role_")
}

// ---------------------------------------------------------------------------
// Authentication

// callAuth sends one request to the running service with a bearer token
// (none if token is empty).
func callAuth(t *testing.T, s *service, method, path, body, token string) (int, http.Header, string) {
	t.Helper()
	if token == "" {
		return s.callWith(t, method, path, body)
	}
	return s.callWith(t, method, path, body, bearer(token)...)
}

// TestServiceAuthentication: the binary with AUTH_HS256_SECRET and
// AUTH_JWKS_URL (a key set served from this test) wants a token on /api/,
// accepts HS256 and EdDSA tokens for the path's user, and refuses another
// user's path; without the variables it is open and says so.
func TestServiceAuthentication(t *testing.T) {
	t.Parallel()
	bin := buildService(t)
	clock := &testClock{t: time.Now()}
	ed := edSigner(t, "ed-1")
	hs := hmacSigner("HS256", []byte(testSecret))
	jwks := newJWKSServer(t, ed.jwk)

	s := startService(t, bin, t.TempDir(), "AUTH_HS256_SECRET="+testSecret, "AUTH_JWKS_URL="+jwks.srv.URL,
		"AUTH_ISSUER="+testIssuer, "AUTH_AUDIENCE="+testIssuer)
	if code, header, body := callAuth(t, s, "GET", "/api/u1/tasks", "", ""); code != http.StatusUnauthorized ||
		header.Get("WWW-Authenticate") != "Bearer" || body != `{"detail":"Not authenticated"}` {
		t.Errorf("no token: %d %q %s", code, header.Get("WWW-Authenticate"), body)
	}
	hsToken := hs.token(t, claimsFor(clock, "u1"))
	if code, _, body := callAuth(t, s, "POST", "/api/u1/tasks", `{"title": "t"}`, hsToken); code != http.StatusCreated {
		t.Errorf("POST with an HS256 token: %d %s", code, body)
	}
	edToken := ed.token(t, claimsFor(clock, "u1"))
	if code, _, body := callAuth(t, s, "GET", "/api/u1/tasks", "", edToken); code != http.StatusOK || !strings.Contains(body, `"title":"t"`) {
		t.Errorf("GET with an EdDSA token: %d %s", code, body)
	}
	if code, _, body := callAuth(t, s, "GET", "/api/u2/tasks", "", edToken); code != http.StatusForbidden {
		t.Errorf("another user's path: %d %s", code, body)
	}
	if code, _, _ := callAuth(t, s, "GET", "/healthz", "", ""); code != http.StatusOK {
		t.Errorf("healthz without a token: %d", code)
	}
	if strings.Contains(s.stderr(), testSecret) || strings.Contains(s.stderr(), hsToken[len(hsToken)-20:]) {
		t.Errorf("the log shows the secret or a token:\n%s", s.stderr())
	}
	s.stop(t)

	open := startService(t, bin, t.TempDir())
	if !regexp.MustCompile(`level=WARN .*authentication is OFF`).MatchString(open.stderr()) {
		t.Errorf("no warning that authentication is off:\n%s", open.stderr())
	}
	if code, _, body := callAuth(t, open, "GET", "/api/u1/tasks", "", ""); code != http.StatusOK {
		t.Errorf("no authentication: GET without a token: %d %s", code, body)
	}
	open.stop(t)
}

// TestServiceAuthKeyServerDown: a key server that cannot be reached
// at start-up is a warning, not a failed start; tokens wait for it (503).
func TestServiceAuthKeyServerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/api/auth/jwks"
	ln.Close() // nothing listens there now
	s := startService(t, buildService(t), t.TempDir(), "AUTH_JWKS_URL="+closedURL)
	if _, ok := s.waitForLine(t, regexp.MustCompile(`level=WARN msg="cannot fetch the JWK set`)); !ok {
		t.Errorf("no warning about the key server:\n%s", s.stderr())
	}
	tok := edSigner(t, "ed-1").token(t, claimsFor(&testClock{t: time.Now()}, "u"))
	if code, _, body := callAuth(t, s, "GET", "/api/u/tasks", "", tok); code != http.StatusServiceUnavailable {
		t.Errorf("token with the key server down: %d %s", code, body)
	}
	s.stop(t)
}

// TestServiceRefusesBadAuthConfig: a bad AUTH_* value is one line naming
// the variable and exit code 1, never showing the secret.
func TestServiceRefusesBadAuthConfig(t *testing.T) {
	t.Parallel()
	bin := buildService(t)
	for _, tt := range []struct{ env, want string }{
		{"AUTH_JWKS_URL=ftp://app.example/jwks", "AUTH_JWKS_URL"},
		{"AUTH_HS256_SECRET=s3cr3t-but-short", "AUTH_HS256_SECRET"},
		{"AUTH_ISSUER=https://app.example", "AUTH_ISSUER"},
	} {
		s := launch(t, bin, t.TempDir(), tt.env)
		wantRefusedStart(t, s, tt.env, "tasksvc: ", tt.want)
	}
}

// TestServiceServesOthersWhileClientsDoNotRead: 40 clients that ask for the
// whole list of a user with 300 tasks of 5,000 characters, and 20 that ask
// for a page of 1,000, and never read their answers, hold no database
// connection: for seconds after, other users' reads, lists and creates all
// answer 2xx, each within the store's timeout, on a pool of 10.
func TestServiceServesOthersWhileClientsDoNotRead(t *testing.T) {
	t.Parallel()
	dbURL := testPostgresURL(t, "TEST_DATABASE_URL")
	bin := buildService(t)
	pg := openTestPostgres(t, dbURL)
	big, other := newUserID(t), newUserID(t)
	long := strings.Repeat("𝄞", maxDescriptionLen) // 20 kB: 6 MB a list
	for range 300 {
		mustCreate(t, pg, big, newTask{Title: "large", Description: &long})
	}
	task := mustCreate(t, pg, other, newTask{Title: "mine"})
	const timeout = 2 * time.Second
	s := startService(t, bin, t.TempDir(), "DATABASE_URL="+dbURL, "DATABASE_MAX_CONNS=10", "DATABASE_TIMEOUT="+timeout.String())
	defer s.stop(t)
	addr := strings.TrimPrefix(s.base, "http://")
	for i := range 60 {
		target := tasksPath(big)
		if i >= 40 {
			target += "?limit=1000"
		}
		conn := startNonReader(t, addr, target)
		// The answer has begun, so the service has read the tasks and is
		// stuck writing them, before any probe is sent.
		conn.SetReadDeadline(time.Now().Add(2 * timeout))
		if line, err := bufio.NewReaderSize(conn, 16).ReadString('\n'); line != "HTTP/1.1 200 OK\r\n" {
			t.Fatalf("client %d, which does not read the body: status line %q, %v", i, line, err)
		}
	}
	probes := []struct{ method, path, body string }{
		{"GET", tasksPath(other) + "/" + task.ID, ""},
		{"GET", tasksPath(other), ""},
		{"POST", tasksPath(other), `{"title": "while others do not read"}`},
	}
	n := 0
	for start := time.Now(); time.Since(start) < 3*time.Second; n++ {
		p := probes[n%len(probes)]
		began := time.Now()
		code, body := s.call(t, p.method, p.path, p.body)
		// A pinned pool would make it a 503 after the timeout; a busy
		// machine may make it slow, but not that slow.
		if took := time.Since(began); code/100 != 2 || took >= timeout {
			t.Fatalf("%s %s after %d probes: %d in %v: %s", p.method, p.path, n, code, took, body)
		}
	}
	t.Logf("%d probes answered 2xx while 60 clients did not read", n)
}

// rawConn is a client connection that speaks HTTP/1.1 by hand, so that a
// test controls when it sends, and sees the server's Connection header as
// the server wrote it.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

// dialRaw opens a raw connection to base (http://host:port).
func dialRaw(t *testing.T, base string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// get sends GET target on the connection and reads the whole answer.
func (c *rawConn) get(t *testing.T, target string) *http.Response {
	t.Helper()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: tasksvc\r\n\r\n", target); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestServiceDrainsOnSIGTERM: after SIGTERM the service still accepts and
// answers, but /readyz is a 503 and every answer closes its connection; it
// does not close an idle connection itself, and exits as soon as the last
// one is closed. A second signal cuts the drain short.
func TestServiceDrainsOnSIGTERM(t *testing.T) {
	t.Parallel()
	bin := buildService(t)
	draining := regexp.MustCompile(`msg="signal received: draining"`)

	s := startService(t, bin, t.TempDir(), "SHUTDOWN_DRAIN=1m")
	idle := dialRaw(t, s.base)
	if resp := idle.get(t, "/healthz"); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("before SIGTERM: %d, close %v", resp.StatusCode, resp.Close)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if _, ok := s.waitForLine(t, draining); !ok {
		t.Fatalf("no drain:\n%s", s.stderr())
	}
	if resp := dialRaw(t, s.base).get(t, "/readyz"); resp.StatusCode != http.StatusServiceUnavailable || !resp.Close {
		t.Errorf("/readyz on a new connection while draining: %d, close %v; want 503 and close", resp.StatusCode, resp.Close)
	}
	// The idle connection was left open: its next request is answered,
	// and the answer closes it.
	if resp := idle.get(t, "/api/u/tasks"); resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("a request on a connection kept alive across SIGTERM: %d, close %v; want 200 and close", resp.StatusCode, resp.Close)
	}
	if _, ok := s.waitForLine(t, regexp.MustCompile(`msg="drained: every connection closed"`)); !ok {
		t.Errorf("the drain did not end with the last connection:\n%s", s.stderr())
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit code %d after the drain", code)
	}

	s = startService(t, bin, t.TempDir(), "SHUTDOWN_DRAIN=1m")
	dialRaw(t, s.base).get(t, "/healthz") // stays open: the drain would last
	s.cmd.Process.Signal(syscall.SIGTERM)
	if _, ok := s.waitForLine(t, draining); !ok {
		t.Fatalf("no drain:\n%s", s.stderr())
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if _, ok := s.waitForLine(t, regexp.MustCompile(`msg="second signal: drain cut short"`)); !ok {
		t.Errorf("a second SIGTERM did not cut the drain short:\n%s", s.stderr())
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit code %d after a second SIGTERM", code)
	}
}

// TestServiceRestartsOnItsSocketWithoutErrors: with the listening socket
// held outside the process, as systemd holds it, a restart costs no
// request: neither handing the socket to a successor and then stopping the
// old process (a rolling restart), nor stopping first and starting after
// (systemctl restart), with clients creating and listing throughout. No
// client sees an error, and every acknowledged create is stored once.
func TestServiceRestartsOnItsSocketWithoutErrors(t *testing.T) {
	t.Parallel()
	dbURL := testPostgresURL(t, "TEST_DATABASE_URL")
	bin := buildService(t)
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	env := []string{"DATABASE_URL=" + dbURL, "SHUTDOWN_DRAIN=3s", "DATABASE_MAX_CONNS=4"}
	old := startOnSocket(t, bin, ln, env...)
	l := startLoad(t, old.base, newUserID(t), 4, false, 0)
	l.waitForAcks(t, 50)

	// Rolling: the successor accepts on the socket before the old one stops.
	next := startOnSocket(t, bin, ln, env...)
	old.stop(t)
	l.waitForAcks(t, 50)
	if errs := l.takeErrors(); len(errs) > 0 {
		t.Errorf("the handoff cost %d client-visible errors: %q", len(errs), errs)
	}

	// systemctl restart: stop, then start; connections wait in the
	// socket's queue meanwhile.
	next.stop(t)
	last := startOnSocket(t, bin, ln, env...)
	l.waitForAcks(t, 50)
	if errs := l.takeErrors(); len(errs) > 0 {
		t.Errorf("stop and start cost %d client-visible errors: %q", len(errs), errs)
	}
	l.wantEveryAckStored(t, openTestPostgres(t, dbURL))
	last.stop(t)
}

// TestStreamsMemory: 1,000 event streams open on the real binary (one
// each for 1,000 users) cost it at most 64 KiB each in resident memory,
// and each still gets its event. The figure is logged; see
// docs/performance.md.
func TestStreamsMemory(t *testing.T) {
	t.Parallel()
	s := startService(t, buildService(t), t.TempDir())
	defer s.stop(t)
	const n = 1000
	before := residentKiB(t, s.cmd.Process.Pid)
	streams := make([]*sseClient, n)
	for i := range streams {
		streams[i] = openStream(t, fmt.Sprintf("%s/api/mem-%d/tasks/events", s.base, i))
	}
	after := residentKiB(t, s.cmd.Process.Pid)
	perStream := float64(after-before) / n
	t.Logf("%d open streams: resident %d KiB before, %d KiB after: %.1f KiB a stream", n, before, after, perStream)
	if perStream > 64 {
		t.Errorf("%.1f KiB a stream, want at most 64", perStream)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		user := fmt.Sprintf("mem-%d", i)
		code, body := s.call(t, "POST", "/api/"+user+"/tasks", `{"title": "t"}`)
		var task testTask
		if err := json.Unmarshal([]byte(body), &task); code != http.StatusCreated || err != nil {
			t.Fatalf("create: %d %s", code, body)
		}
		streams[i].want(t, "upsert", task.ID)
	}
	for _, c := range streams {
		c.close()
	}
}

// residentKiB reads a process's resident memory (VmRSS) from /proc.
func residentKiB(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return kib
		}
	}
	t.Fatal("no VmRSS line")
	return 0
}
