package main

// A load for restart tests: clients that create tasks with idempotency keys
// (retried with the same key until acknowledged) and read lists, recording
// every acknowledged task and every answer a client would see as an error.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// load is a running load on one base URL, for one user.
type load struct {
	base, user string
	stop       chan struct{}
	wg         sync.WaitGroup
	requests   atomic.Int64
	mu         sync.Mutex      // guards acked, errors and waiters
	acked      map[string]bool // task ids acknowledged with a 201
	errors     []string        // what clients saw go wrong, retried or not
	waiters    []chan struct{} // closed at the next acknowledgement
}

// startLoad starts clients workers, each with its own connections and, when
// localAddrs is set, its own loopback source address (so a proxy's per-client
// limits see them as different clients). A worker starts a create and a
// read at most once every pace (0: as fast as answers come).
func startLoad(t *testing.T, base, user string, clients int, localAddrs bool, pace time.Duration) *load {
	t.Helper()
	l := &load{base: base, user: user, stop: make(chan struct{}), acked: make(map[string]bool)}
	for i := range clients {
		dialer := &net.Dialer{Timeout: 5 * time.Second}
		if localAddrs {
			dialer.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i+1))}
		}
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 2}}
		goWait(&l.wg, func() { l.client(client, i, pace) })
	}
	t.Cleanup(l.finish)
	return l
}

// client creates a task, retrying with its key until it is acknowledged,
// then reads a page of the list, until the load stops.
func (l *load) client(c *http.Client, worker int, pace time.Duration) {
	var tick <-chan time.Time
	if pace > 0 {
		ticker := time.NewTicker(pace)
		defer ticker.Stop()
		tick = ticker.C
	}
	for i := 0; ; i++ {
		if tick != nil {
			select {
			case <-tick:
			case <-l.stop:
				return
			}
		}
		key := fmt.Sprintf("w%d-%d", worker, i)
		for attempt := 0; ; attempt++ {
			select {
			case <-l.stop:
				return
			default:
			}
			code, body, err := l.send(c, "POST", "/api/"+l.user+"/tasks", `{"title": "`+key+`"}`, key)
			if err == nil && code == http.StatusCreated {
				var task struct{ ID string }
				json.Unmarshal(body, &task)
				l.ack(task.ID)
				break
			}
			l.fail(fmt.Sprintf("POST %s (attempt %d): %d %v %s", key, attempt, code, err, body))
		}
		if code, body, err := l.send(c, "GET", "/api/"+l.user+"/tasks?limit=5", "", ""); err != nil || code != http.StatusOK {
			l.fail(fmt.Sprintf("GET list: %d %v %s", code, err, body))
		}
	}
}

// send makes one request.
func (l *load) send(c *http.Client, method, path, body, key string) (int, []byte, error) {
	l.requests.Add(1)
	req, err := http.NewRequest(method, l.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (l *load) ack(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[id] = true
	for _, w := range l.waiters {
		close(w)
	}
	l.waiters = nil
}

func (l *load) fail(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = append(l.errors, what)
}

// waitForAcks returns once n more creates are acknowledged than when it was
// called, or fails the test after a minute.
func (l *load) waitForAcks(t *testing.T, n int) {
	t.Helper()
	l.mu.Lock()
	target := len(l.acked) + n
	l.mu.Unlock()
	deadline := time.After(time.Minute)
	for {
		l.mu.Lock()
		if len(l.acked) >= target {
			l.mu.Unlock()
			return
		}
		next := make(chan struct{})
		l.waiters = append(l.waiters, next)
		l.mu.Unlock()
		select {
		case <-next:
		case <-deadline:
			t.Fatalf("fewer than %d acknowledgements in a minute; errors: %q", n, l.takeErrors())
		}
	}
}

// takeErrors returns the errors seen since the last call.
func (l *load) takeErrors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := l.errors
	l.errors = nil
	return errs
}

// finish stops the clients and waits for them.
func (l *load) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// wantEveryAckStored checks that the store holds exactly the acknowledged
// tasks of the load's user: none lost, none made twice.
func (l *load) wantEveryAckStored(t *testing.T, s taskStore) {
	t.Helper()
	l.finish()
	tasks, err := listAll(t.Context(), s, l.user)
	if err != nil {
		t.Fatal(err)
	}
	stored := make(map[string]bool, len(tasks))
	titles := make(map[string]bool, len(tasks))
	for _, task := range tasks {
		stored[task.ID] = true
		if titles[task.Title] {
			t.Errorf("the create %s was stored twice", task.Title)
		}
		titles[task.Title] = true
	}
	lost := 0
	for id := range l.acked {
		if !stored[id] {
			lost++
		}
	}
	if lost > 0 || len(tasks) != len(l.acked) {
		t.Errorf("%d acknowledged creates, %d stored, %d of the acknowledged lost", len(l.acked), len(tasks), lost)
	}
	t.Logf("%d requests, %d acknowledged creates, all stored once", l.requests.Load(), len(l.acked))
}
