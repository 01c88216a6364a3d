package main

// Fault tests (issue 4): kill -9 under load on PostgreSQL, slow clients
// against the http.Server run() builds, and fuzz targets for request bodies
// and path parameters.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// ---------------------------------------------------------------------------
// Crash

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
		wg.Go(func() {
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

// waitReady returns once /readyz answers 200. The service may listen before
// its store is ready (it retries a database that is still waking), and there
// is no event to wait on, so this polls; each poll is one round trip.
func waitReady(t *testing.T, s *service) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(s.base + "/readyz")
		if err != nil {
			t.Fatalf("readyz: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
	}
	t.Fatalf("not ready within 30 s:\n%s", s.stderr())
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
		readers.Go(func() {
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
	trickler.Go(func() {
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

// ---------------------------------------------------------------------------
// Fuzzing

// wantContractAnswer checks what every answer must be: one of the statuses
// the contract allows for the route, JSON, with a detail on errors, and 422
// items located in the body, path or query. It returns the 422 items.
func wantContractAnswer(t *testing.T, rec *httptest.ResponseRecorder, what string, allowed ...int) []testItem {
	t.Helper()
	if !slices.Contains(allowed, rec.Code) {
		t.Fatalf("%s: status %d, want one of %v; body %.300s", what, rec.Code, allowed, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s: not a JSON answer (Content-Type %q): %q", what, ct, rec.Body)
	}
	if rec.Code < 400 {
		return nil
	}
	var errBody struct{ Detail json.RawMessage }
	if err := json.Unmarshal(rec.Body.Bytes(), &errBody); err != nil || len(errBody.Detail) == 0 || isNull(errBody.Detail) {
		t.Fatalf("%s: error %d without a detail: %s", what, rec.Code, rec.Body)
	}
	if rec.Code != http.StatusUnprocessableEntity {
		return nil
	}
	var items []testItem
	if err := json.Unmarshal(errBody.Detail, &items); err != nil || len(items) == 0 {
		t.Fatalf("%s: 422 detail is not a list of items: %s", what, rec.Body)
	}
	for _, it := range items {
		if it.Type == "" || it.Msg == "" || len(it.Loc) == 0 || !slices.Contains([]any{"body", "path", "query"}, it.Loc[0]) {
			t.Fatalf("%s: malformed 422 item %+v", what, it)
		}
	}
	return items
}

// wantReadBack checks that GET target answers exactly the bytes a write
// answered.
func wantReadBack(t *testing.T, h http.Handler, target string, written *httptest.ResponseRecorder) {
	t.Helper()
	rec := serve(t, h, "GET", target, "")
	if rec.Code != http.StatusOK || rec.Body.String() != written.Body.String() {
		t.Fatalf("GET %s after the write: %d %.300s\nwant 200 %.300s", target, rec.Code, rec.Body, written.Body)
	}
}

// show renders a task for a failure message, cut short: fuzzed text can be
// long.
func show(task testTask) string {
	b, _ := json.Marshal(task)
	return fmt.Sprintf("%.300s", b)
}

// wantStorable checks the contract's limits on a task that was accepted.
func wantStorable(t *testing.T, task testTask) {
	t.Helper()
	wantWellFormed(t, task)
	if n := utf8.RuneCountInString(task.Title); n < 1 || n > maxTitleLen || strings.TrimSpace(task.Title) == "" ||
		strings.IndexByte(task.Title, 0) >= 0 {
		t.Errorf("accepted title %q (%d characters)", task.Title, n)
	}
	if d := task.Description; d != nil && (utf8.RuneCountInString(*d) > maxDescriptionLen || strings.IndexByte(*d, 0) >= 0) {
		t.Errorf("accepted description %q", *d)
	}
}

// loneSurrogateEscape finds what might be a \uD800-\uDFFF escape. It also
// matches an escaped backslash before "ud800": the oracle below only skips
// more bodies than it must.
var loneSurrogateEscape = regexp.MustCompile(`(?i)\\ud[89a-f]`)

// bodyFields decodes a body the way the contract reads it, independently
// of the service's decoder: nil if it is not a JSON object of valid UTF-8,
// or might hold a lone surrogate escape (encoding/json would turn one
// into U+FFFD, where the contract wants a 422).
func bodyFields(body []byte) map[string]json.RawMessage {
	var fields map[string]json.RawMessage
	if !utf8.Valid(body) || loneSurrogateEscape.Match(body) || json.Unmarshal(body, &fields) != nil {
		return nil
	}
	return fields
}

// textField decodes a string field and reports whether it meets the
// contract: a JSON string of minLen to maxLen code points, without NUL.
func textField(raw json.RawMessage, minLen, maxLen int) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	n := utf8.RuneCountInString(s)
	return s, n >= minLen && n <= maxLen && strings.IndexByte(s, 0) < 0
}

// validTitle reports whether raw is a title the contract accepts.
func validTitle(raw json.RawMessage) (string, bool) {
	s, ok := textField(raw, 1, maxTitleLen)
	return s, ok && strings.TrimSpace(s) != ""
}

// validDescription reports whether raw is a description the contract
// accepts; nil for null.
func validDescription(raw json.RawMessage) (*string, bool) {
	if isNull(raw) {
		return nil, true
	}
	s, ok := textField(raw, 0, maxDescriptionLen)
	return &s, ok
}

// bodySeeds are the contract's edge cases for a POST or PUT body.
func bodySeeds() []string {
	long := strings.Repeat
	seeds := []string{
		``, ` `, "\n\t", `null`, `[]`, `[{"title": "t"}]`, `"t"`, `42`, `true`, `{}`,
		`{"title": "t"}`, `{"title": "t", "description": "d"}`, `{"title": "t", "description": null}`,
		`{"title": ""}`, `{"title": " "}`, `{"title": " \t\n\r "}`, `{"title": "\u3000"}`, `{"title": "\u00a0\u2028"}`,
		`{"title": "` + long("a", 500) + `"}`, `{"title": "` + long("a", 501) + `"}`,
		`{"title": "` + long("漢", 500) + `"}`, `{"title": "` + long("😀", 501) + `"}`,
		`{"title": "` + long("e\u0301", 250) + `"}`, `{"title": "👩‍💻"}`, `{"title": "\ud83d\ude00"}`,
		`{"title": "a\u0000b"}`, "{\"title\": \"a\x00b\"}", `{"title": "t", "description": "\u0000"}`,
		`{"title": "\ud800"}`, `{"title": "\udc00"}`, `{"title": "\ude00\ud83d"}`, `{"title": "\\ud800"}`,
		`{"title": null}`, `{"description": null}`, `{"title": 1}`, `{"title": ["t"]}`, `{"title": {"t": 1}}`,
		`{"title": 1e999}`, `{"title": "t", "is_completed": 1e999}`, `{"title": 123456789012345678901234567890}`,
		`{"is_completed": true}`, `{"is_completed": "yes"}`, `{"is_completed": "OFF"}`, `{"is_completed": 1}`,
		`{"is_completed": 1.0}`, `{"is_completed": -0}`, `{"is_completed": 2}`, `{"is_completed": null}`,
		`{"is_completed": "maybe"}`, `{"is_completed": [true]}`,
		`{"title": "t", "description": "` + long("d", 5000) + `"}`, `{"title": "t", "description": "` + long("😀", 5001) + `"}`,
		`{"title": "a", "title": ""}`, `{"Title": "case"}`, `{"title": "t", "id": "x", "user_id": "y", "colour": 1}`,
		`{"title": "t"} x`, `{"title": `, `{`, `title=t`, "\xef\xbb\xbf{\"title\": \"bom\"}", "{\"title\": \"\xff\"}",
		long("[", 10000), `{"title": "t", "description": {"a": [1, {"b": null}]}}`,
	}
	return seeds
}

// FuzzTaskBody: whatever the body of a create or an update, the answer is
// one the contract allows for the route (never a 500); the task a 2xx
// answer shows reads back identically, holds exactly what was sent, and
// meets the contract's limits; and a body the contract accepts is accepted.
func FuzzTaskBody(f *testing.F) {
	for _, body := range bodySeeds() {
		f.Add(false, []byte(body))
		f.Add(true, []byte(body))
	}
	f.Fuzz(func(t *testing.T, put bool, body []byte) {
		// A fresh store per input: the outcome depends on the input alone,
		// and memory does not grow over millions of runs.
		h := newTestServer(t)
		fields := bodyFields(body)
		if !put {
			rec := serve(t, h, "POST", "/api/u/tasks", string(body))
			wantContractAnswer(t, rec, "POST", http.StatusCreated, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
			title, titleOK := validTitle(fields["title"])
			description, descriptionOK := validDescription(fields["description"])
			if _, ok := fields["description"]; !ok {
				description, descriptionOK = nil, true
			}
			if rec.Code != http.StatusCreated {
				if fields != nil && titleOK && descriptionOK {
					t.Fatalf("POST %.300q: %d %.300s, but the contract accepts it", body, rec.Code, rec.Body)
				}
				return
			}
			var task testTask
			if err := json.Unmarshal(rec.Body.Bytes(), &task); err != nil {
				t.Fatal(err)
			}
			wantStorable(t, task)
			want := testTask{ID: task.ID, UserID: "u", Title: title, Description: description,
				CreatedAt: task.CreatedAt, UpdatedAt: task.CreatedAt}
			if fields != nil && !equalTasks(task, want) {
				t.Fatalf("POST %.300q created %s\nwant %s", body, show(task), show(want))
			}
			wantReadBack(t, h, rec.Header().Get("Location"), rec)
			return
		}

		orig := createTask(t, h, "u", `{"title": "original", "description": "kept"}`)
		target := "/api/u/tasks/" + orig.ID
		rec := serve(t, h, "PUT", target, string(body))
		wantContractAnswer(t, rec, "PUT", http.StatusOK, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
		// valid: the contract accepts the body; lax: is_completed is in a
		// form other than true or false, which this oracle does not judge
		// (TestUpdateTaskAcceptsPydanticBooleans does).
		want, valid, lax := orig, fields != nil, false
		if raw, ok := fields["title"]; ok {
			var titleOK bool
			want.Title, titleOK = validTitle(raw)
			valid = valid && titleOK
		}
		if raw, ok := fields["description"]; ok {
			var descriptionOK bool
			want.Description, descriptionOK = validDescription(raw)
			valid = valid && descriptionOK
		}
		if raw, ok := fields["is_completed"]; ok {
			lax = string(raw) != "true" && string(raw) != "false"
			want.IsCompleted = string(raw) == "true"
		}
		if rec.Code != http.StatusOK {
			if valid && !lax {
				t.Fatalf("PUT %.300q: %d %.300s, but the contract accepts it", body, rec.Code, rec.Body)
			}
			if got := getTask(t, h, "u", orig.ID); !equalTasks(got, orig) {
				t.Fatalf("PUT %.300q answered %d but changed the task to %s", body, rec.Code, show(got))
			}
			return
		}
		var task testTask
		if err := json.Unmarshal(rec.Body.Bytes(), &task); err != nil {
			t.Fatal(err)
		}
		wantStorable(t, task)
		if task.UpdatedAt <= orig.UpdatedAt {
			t.Fatalf("PUT %.300q: updated_at %s did not move past %s", body, task.UpdatedAt, orig.UpdatedAt)
		}
		want.UpdatedAt = task.UpdatedAt
		if lax {
			want.IsCompleted = task.IsCompleted
		}
		if fields != nil && !equalTasks(task, want) {
			t.Fatalf("PUT %.300q updated to %s\nwant %s", body, show(task), show(want))
		}
		wantReadBack(t, h, target, rec)
	})
}

// validUserID is the contract's rule for {user_id}: 1 to 255 code points of
// valid UTF-8, no control characters.
func validUserID(s string) bool {
	n := utf8.RuneCountInString(s)
	return utf8.ValidString(s) && n >= 1 && n <= maxUserIDLen && !strings.ContainsFunc(s, unicode.IsControl)
}

// pathRoutes are the task routes with their success status.
var pathRoutes = []struct {
	method, path string
	status       int
}{
	{"GET", "/api/{user}/tasks", http.StatusOK},
	{"POST", "/api/{user}/tasks", http.StatusCreated},
	{"GET", "/api/{user}/tasks/{task}", http.StatusOK},
	{"PUT", "/api/{user}/tasks/{task}", http.StatusOK},
	{"DELETE", "/api/{user}/tasks/{task}", http.StatusOK},
	{"PATCH", "/api/{user}/tasks/{task}/complete", http.StatusOK},
}

// FuzzPathParams: whatever the {user_id} and {task_id} segments, the answer
// is one the contract allows (never a 500), a user id is refused exactly
// when the contract says so, and a request that succeeds acts on the task
// of exactly that user. The segments are sent either escaped (so any byte,
// "/" included, reaches the handler as the value) or raw (so the server's
// own %-decoding and routing are fuzzed too). In the task segment, $id,
// $ID and $hex stand for the target task's id in lowercase, uppercase and
// bare hex: a random string almost never names an existing task.
func FuzzPathParams(f *testing.F) {
	users := []string{"u", "", " ", ".", "..", "a/b", "a%2Fb", "%2e%2e", "a b", "?", "a?b=c", "#", "tasks",
		"\x00", "a%00b", "\x01", "%01", "\n", "%0A", "\x7f", "%7F", "\u0085", "%C2%85", "\u200b", "\u202e",
		"\xff", "%FF", "\xed\xa0\x80", "%ED%A0%80", "%", "%zz", "%E6%BC%A2", "漢", "😀", "👩‍💻", "e\u0301",
		strings.Repeat("u", 255), strings.Repeat("u", 256), strings.Repeat("漢", 255), strings.Repeat("😀", 256),
		strings.Repeat("%E6%BC%A2", 255)}
	tasks := []string{"$id", "$ID", "$hex", "{$id}", "%7B$ID%7D", "urn:uuid:$id", "URN:UUID:$ID", "$id/", "$id%00",
		"{$id", "$id}", "urn:uuid:{$id}", missingID, "not-a-uuid", "", ".", "..", "\x00", "%00", "\xff",
		"0192f1c4-7a1e-7c3e-9d5a-3b2f1e0c9a1g", "0192f1c47-a1e-7c3e-9d5a-3b2f1e0c9a11", strings.Repeat("f", 1000)}
	for i, u := range users {
		f.Add(uint8(i), true, u, tasks[i%len(tasks)])
		f.Add(uint8(i+1), false, u, tasks[i%len(tasks)])
	}
	for i, task := range tasks {
		f.Add(uint8(i), true, "u", task)
		f.Add(uint8(i+1), false, "u", task)
	}
	f.Fuzz(func(t *testing.T, route uint8, escape bool, user, task string) {
		r := pathRoutes[int(route)%len(pathRoutes)]
		store := newMemStore()
		h := newServer(discardLogger(), store, testCORS, nil)
		// The target belongs to the user exactly as fuzzed, so a request
		// whose path decodes back to it can find it.
		target, _, err := store.CreateTask(t.Context(), user, newTask{Title: "target"}, idempotencyKey{})
		if err != nil {
			t.Fatal(err)
		}
		task = strings.NewReplacer("$id", target.ID, "$ID", strings.ToUpper(target.ID),
			"$hex", strings.ReplaceAll(target.ID, "-", "")).Replace(task)
		userSeg, taskSeg := user, task
		if escape {
			userSeg, taskSeg = url.PathEscape(user), url.PathEscape(task)
		}
		path := strings.NewReplacer("{user}", userSeg, "{task}", taskSeg).Replace(r.path)
		if !escape && strings.ContainsFunc(userSeg+taskSeg, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			// Raw, white space or a line break would end the request
			// target or start another header: a different request, not a
			// different path parameter. (A silent return, not t.Skip: the
			// seed corpus runs in CI's verbose test step.)
			return
		}
		const body = `{"title": "t"}`
		// Parse the request as the server does, so that what reaches the
		// handler is exactly what a real connection would deliver.
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: svc\r\nContent-Length: %d\r\n\r\n%s", r.method, path, len(body), body)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			if escape {
				t.Fatalf("escaped request %q refused: %v", path, err)
			}
			return // the server answers 400 before any handler runs
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		what := r.method + " " + path
		items := wantContractAnswer(t, rec, what, r.status, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnprocessableEntity)
		if rec.Code == http.StatusOK || rec.Code == http.StatusCreated {
			checkPathSuccess(t, h, rec, what, user, escape, target)
		}
		if !escape {
			return
		}

		// Escaped, the path has the route's shape whatever the values, so
		// it misses the route only where the mux would clean it: an empty,
		// "." or ".." segment of the escaped path (url.PathEscape leaves
		// dots alone), or an empty task segment, which no wildcard matches.
		// Nor does a wildcard match a segment that decodes to a lone "/"
		// (%2F): Go's router takes it for a trailing slash.
		oneTask := strings.Contains(r.path, "{task}")
		segments := strings.Split(strings.TrimSuffix(path, "/"), "/")[1:]
		unroutable := slices.ContainsFunc(segments, func(seg string) bool {
			return seg == "" || seg == "." || seg == ".." || seg == "%2F"
		}) || oneTask && task == ""
		routeMiss := rec.Code == http.StatusNotFound && strings.Contains(rec.Body.String(), `"Not Found"`)
		if routeMiss != unroutable || rec.Code == http.StatusMethodNotAllowed {
			t.Fatalf("%s: %d %s; route miss expected: %v", what, rec.Code, rec.Body, unroutable)
		}
		if routeMiss {
			return
		}
		userRefused := slices.ContainsFunc(items, func(it testItem) bool { return it.where() == "path.user_id" })
		if userRefused == validUserID(user) {
			t.Fatalf("%s: user_id %q refused: %v; the contract says valid: %v (%s)", what, user, userRefused, validUserID(user), rec.Body)
		}
		namesTarget := slices.Contains([]string{target.ID, strings.ToUpper(target.ID), strings.ReplaceAll(target.ID, "-", ""),
			"{" + target.ID + "}", "urn:uuid:" + target.ID, "URN:UUID:" + strings.ToUpper(target.ID)}, task)
		if validUserID(user) && (!oneTask || namesTarget) && rec.Code != r.status {
			t.Fatalf("%s: %d %s, want %d: the user id is valid and the task exists", what, rec.Code, rec.Body, r.status)
		}
	})
}

// checkPathSuccess checks a 2xx answer in FuzzPathParams: it concerns a
// valid user id (exactly the fuzzed one when it was sent escaped), the
// target task unless it created one, and what it shows reads back.
func checkPathSuccess(t *testing.T, h http.Handler, rec *httptest.ResponseRecorder, what, user string, escape bool, target Task) {
	t.Helper()
	wantUser := func(got string) {
		t.Helper()
		if !validUserID(got) || escape && got != user {
			t.Fatalf("%s answered for user %q (%q sent, escaped: %v)", what, got, user, escape)
		}
	}
	body := rec.Body.Bytes()
	switch {
	case body[0] == '[': // a list
		var tasks []testTask
		if err := json.Unmarshal(body, &tasks); err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			wantUser(task.UserID)
		}
		if escape && (len(tasks) != 1 || tasks[0].ID != target.ID) {
			t.Fatalf("%s listed %d tasks, want the target only", what, len(tasks))
		}
	case bytes.Contains(body, []byte(`"message"`)): // a delete
		if string(body) != `{"message":"Task deleted successfully"}` {
			t.Fatalf("%s: %s", what, body)
		}
	case rec.Code == http.StatusCreated:
		var task testTask
		if err := json.Unmarshal(body, &task); err != nil {
			t.Fatal(err)
		}
		wantUser(task.UserID)
		wantReadBack(t, h, rec.Header().Get("Location"), rec)
	default:
		var task testTask
		if err := json.Unmarshal(body, &task); err != nil {
			t.Fatal(err)
		}
		wantUser(task.UserID)
		if task.ID != target.ID {
			t.Fatalf("%s answered task %s, want the target %s", what, task.ID, target.ID)
		}
		wantReadBack(t, h, "/api/"+url.PathEscape(task.UserID)+"/tasks/"+task.ID, rec)
	}
}
