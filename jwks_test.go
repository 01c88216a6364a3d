package main

// The JWK set: fetching, caching, rotation and refetch limits, and which
// keys of a set are used. The keys, tokens and key servers are
// auth_test.go's.

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestJWKSKeyRotation: a key added to the set is accepted once the set is
// fetched again for its kid; a key removed from it stops being accepted
// once the set is older than an hour and refreshed in the background.
func TestJWKSKeyRotation(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	h := f.handler(newMemStore(defaultMaxTasks))
	status := func(s testSigner) int {
		return serve(t, h, "GET", "/api/u/tasks", "", bearer(s.token(t, claimsFor(f.clock, "u")))...).Code
	}
	if got := status(f.ed); got != http.StatusOK || f.jwks.hits.Load() != 1 {
		t.Fatalf("first token: %d after %d fetches, want 200 after 1", got, f.jwks.hits.Load())
	}
	next := edSigner(t, "ed-2")
	f.jwks.serveKeys(f.ed.jwk, next.jwk)
	f.clock.advance(jwksRefetchInterval)
	if got := status(next); got != http.StatusOK || f.jwks.hits.Load() != 2 {
		t.Errorf("new kid: %d after %d fetches, want 200 after 2", got, f.jwks.hits.Load())
	}

	// The old key is withdrawn. Within the hour it is still trusted, and
	// answering does not wait for the key server.
	f.jwks.serveKeys(next.jwk)
	f.clock.advance(jwksMaxAge - time.Minute)
	if got := status(f.ed); got != http.StatusOK || f.jwks.hits.Load() != 2 {
		t.Errorf("withdrawn key within the hour: %d after %d fetches, want 200 after 2", got, f.jwks.hits.Load())
	}
	f.clock.advance(2 * time.Minute)
	if got := status(f.ed); got != http.StatusOK {
		t.Errorf("withdrawn key, set just over an hour old: %d, want 200 while it refreshes", got)
	}
	f.auth.keys.idle()
	if got := f.jwks.hits.Load(); got != 3 {
		t.Errorf("%d fetches, want a background refresh (3)", got)
	}
	if got := status(f.ed); got != http.StatusUnauthorized {
		t.Errorf("withdrawn key after the refresh: %d, want 401", got)
	}
	if got := status(next); got != http.StatusOK {
		t.Errorf("current key after the refresh: %d, want 200", got)
	}
}

// TestJWKSRefetchRateLimit: tokens with unknown kids fetch the set at most
// once per jwksRefetchInterval, however many arrive at once; requests that
// need the fetch in flight wait for it rather than start their own. A kid
// the fetch did not find is a 401; one that arrives before another fetch
// is allowed is a 503 with Retry-After, since it may have been published
// since.
func TestJWKSRefetchRateLimit(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	h := f.handler(newMemStore(defaultMaxTasks))
	unknown := func(i int) string { return edSigner(t, fmt.Sprint("made-up-", i)).token(t, claimsFor(f.clock, "u")) }
	// parallel sends n tokens at once; each answer must be one of want.
	parallel := func(n int, token func(i int) string, want ...int) {
		t.Helper()
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = token(i)
		}
		var wg sync.WaitGroup
		for _, tok := range tokens {
			goWait(&wg, func() {
				if rec := serve(t, h, "GET", "/api/u/tasks", "", bearer(tok)...); !slices.Contains(want, rec.Code) {
					t.Errorf("status %d, want one of %v", rec.Code, want)
				}
			})
		}
		wg.Wait()
	}

	// A request that waited for the fetch, or started it, is a 401; one
	// that came after it ended, within the interval, a 503.
	parallel(20, unknown, http.StatusUnauthorized, http.StatusServiceUnavailable)
	if got := f.jwks.hits.Load(); got != 1 {
		t.Errorf("20 unknown kids at once: %d fetches, want 1", got)
	}
	f.clock.advance(jwksRefetchInterval - time.Second)
	parallel(20, unknown, http.StatusServiceUnavailable)
	if got := f.jwks.hits.Load(); got != 1 {
		t.Errorf("unknown kids within the interval: %d fetches, want still 1", got)
	}
	// An interval on, a new key is published: all requests carrying it are
	// accepted, on one fetch.
	next := edSigner(t, "ed-2")
	f.jwks.serveKeys(f.ed.jwk, next.jwk)
	f.clock.advance(time.Second)
	parallel(20, func(int) string { return next.token(t, claimsFor(f.clock, "u")) }, http.StatusOK)
	if got := f.jwks.hits.Load(); got != 2 {
		t.Errorf("an interval later: %d fetches, want 2", got)
	}
}

// TestJWKSStaleKeysKept: when the key server fails, the keys held keep
// working; a token for a key not held is a 503, not a 401, since it may be
// good.
func TestJWKSStaleKeysKept(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	h := f.handler(newMemStore(defaultMaxTasks))
	good := f.ed.token(t, claimsFor(f.clock, "u"))
	if rec := serve(t, h, "GET", "/api/u/tasks", "", bearer(good)...); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	f.jwks.serve(http.StatusInternalServerError, []byte("down"))
	f.clock.advance(jwksMaxAge + time.Minute)
	good = f.ed.token(t, claimsFor(f.clock, "u"))
	for range 2 { // before and after the failed background refresh
		if rec := serve(t, h, "GET", "/api/u/tasks", "", bearer(good)...); rec.Code != http.StatusOK {
			t.Errorf("known key while the key server fails: %d, want 200", rec.Code)
		}
		f.auth.keys.idle()
	}
	if got := f.jwks.hits.Load(); got != 2 {
		t.Errorf("%d fetches, want 2 (the refresh was tried once)", got)
	}
	next := edSigner(t, "ed-2")
	rec := serve(t, h, "GET", "/api/u/tasks", "", bearer(next.token(t, claimsFor(f.clock, "u")))...)
	wantDetail(t, rec, http.StatusServiceUnavailable, "Authentication unavailable, try again shortly")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	// The server is back with the new key; an interval on, it is fetched.
	f.jwks.serveKeys(f.ed.jwk, next.jwk)
	f.clock.advance(jwksRefetchInterval)
	if rec := serve(t, h, "GET", "/api/u/tasks", "", bearer(next.token(t, claimsFor(f.clock, "u")))...); rec.Code != http.StatusOK {
		t.Errorf("new key once the server is back: %d, want 200", rec.Code)
	}
}

// TestJWKSUnavailableAtStart: with no keys ever loaded, tokens are 503s,
// and the set is tried again every jwksRefetchInterval (5 s).
func TestJWKSUnavailableAtStart(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	f.jwks.serve(http.StatusBadGateway, nil)
	h := f.handler(newMemStore(defaultMaxTasks))
	call := func() int {
		return serve(t, h, "GET", "/api/u/tasks", "", bearer(f.ed.token(t, claimsFor(f.clock, "u")))...).Code
	}
	if got := call(); got != http.StatusServiceUnavailable {
		t.Errorf("key server down: %d, want 503", got)
	}
	f.jwks.serveKeys(f.ed.jwk)
	f.clock.advance(jwksRefetchInterval - time.Second)
	if got := call(); got != http.StatusServiceUnavailable || f.jwks.hits.Load() != 1 {
		t.Errorf("within 5 s: %d after %d fetches, want 503 after 1", got, f.jwks.hits.Load())
	}
	f.clock.advance(time.Second)
	if got := call(); got != http.StatusOK || f.jwks.hits.Load() != 2 {
		t.Errorf("5 s on: %d after %d fetches, want 200 after 2", got, f.jwks.hits.Load())
	}
	// HS256 needs no key server.
	hs := newAuthFixture(t)
	hs.jwks.serve(http.StatusBadGateway, nil)
	if rec := serve(t, hs.handler(newMemStore(defaultMaxTasks)), "GET", "/api/u/tasks", "", bearer(hs.hs.token(t, claimsFor(hs.clock, "u")))...); rec.Code != http.StatusOK {
		t.Errorf("HS256 with the key server down: %d, want 200", rec.Code)
	}
}

// TestJWKSFetchFailures: each way a fetch can fail leaves no keys (so a
// token is a 503), and none of them hangs.
func TestJWKSFetchFailures(t *testing.T) {
	t.Parallel()
	ed := edSigner(t, "ed-1")
	jwk, _ := json.Marshal(ed.jwk)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"over 1 MiB", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"keys": [%s]%s}`, jwk, strings.Repeat(" ", maxJWKSBytes))
		}},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }},
		{"status 404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }},
		{"no usable key", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"keys": [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "OKP", "crv": "Ed448", "x": "AA"}]}`)
		}},
		{"no answer", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			clock := newTestClock()
			a := newTestAuthenticator(t, authConfig{JWKSURL: srv.URL}, clock)
			a.keys.timeout = 200 * time.Millisecond // real time: the server does not answer at all
			rec := serve(t, newServer(discardLogger(), newMemStore(defaultMaxTasks), testCORS, a, nil), "GET", "/api/u/tasks", "",
				bearer(ed.token(t, claimsFor(clock, "u")))...)
			if rec.Code != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", rec.Code)
			}
		})
	}
}

// TestJWKSRedirects: a redirect is followed within https, never from https
// to plain http.
func TestJWKSRedirects(t *testing.T) {
	t.Parallel()
	ed := edSigner(t, "ed-1")
	plain := newJWKSServer(t, ed.jwk)
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-http":
			http.Redirect(w, r, plain.srv.URL, http.StatusFound)
		case "/to-https":
			http.Redirect(w, r, "/jwks", http.StatusMovedPermanently)
		default:
			json.NewEncoder(w).Encode(map[string]any{"keys": []any{ed.jwk}})
		}
	}))
	t.Cleanup(secure.Close)

	c := newJWKSCache(secure.URL+"/to-http", secure.Client(), discardLogger())
	if err := c.fetch(); err == nil || plain.hits.Load() != 0 {
		t.Errorf("https to http: err %v, %d requests over http; want an error and none", err, plain.hits.Load())
	}
	c = newJWKSCache(secure.URL+"/to-https", secure.Client(), discardLogger())
	if err := c.fetch(); err != nil || len(c.set.Load().keys) != 1 {
		t.Errorf("https to https: %v", err)
	}
}

// TestParseJWK: which keys of a set are used, and which are skipped.
func TestParseJWK(t *testing.T) {
	t.Parallel()
	ed := edSigner(t, "ed").jwk
	rs := rsaSigner("rsa").jwk
	ec, _ := ecSigner(t, "ec")
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	notOnCurve := with(ec.jwk, "y", ec.jwk["x"])
	edPadded := with(ed, "x", ed["x"].(string)+"=")
	for _, tt := range []struct {
		name string
		jwk  map[string]any
		ok   bool
	}{
		{"Ed25519 as Better Auth serves it", ed, true},
		{"Ed25519 with alg EdDSA", with(ed, "alg", "EdDSA", "use", "sig"), true},
		{"Ed25519 with alg Ed25519", with(ed, "alg", "Ed25519", "key_ops", []string{"verify"}), true},
		{"RSA with alg RS256", rs, true},
		{"RSA without alg", with(rs, "alg", nil), true},
		{"P-256 without alg", ec.jwk, true},
		{"P-256 with alg ES256", with(ec.jwk, "alg", "ES256"), true},
		{"symmetric key", map[string]any{"kty": "oct", "k": enc([]byte(testSecret))}, false},
		{"use enc", with(ed, "use", "enc"), false},
		{"key_ops without verify", with(ed, "key_ops", []string{"encrypt"}), false},
		{"Ed448", with(ed, "crv", "Ed448"), false},
		{"X25519", with(ed, "crv", "X25519"), false},
		{"Ed25519 bound to RS256", with(ed, "alg", "RS256"), false},
		{"RSA bound to PS256", with(rs, "alg", "PS256"), false},
		{"RSA bound to RS512", with(rs, "alg", "RS512"), false},
		{"RSA of 1024 bits", with(rs, "n", enc(smallRSA.N.Bytes())), false},
		{"RSA even exponent", with(rs, "e", enc([]byte{1, 0, 0})), false},
		{"P-384", with(ec.jwk, "crv", "P-384"), false},
		{"P-256 bound to ES384", with(ec.jwk, "alg", "ES384"), false},
		{"P-256 point not on the curve", notOnCurve, false},
		{"Ed25519 x too short", with(ed, "x", enc(make([]byte, 31))), false},
		{"padded base64", edPadded, false},
		{"no kty", with(ed, "kty", nil), false},
	} {
		raw, _ := json.Marshal(tt.jwk)
		if _, err := parseJWK(raw); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok = %v", tt.name, err, tt.ok)
		}
	}
}

// idle returns once no fetch is running: a test waits with it for a
// background fetch.
func (c *jwksCache) idle() {
	c.mu.Lock()
	done := c.fetching
	c.mu.Unlock()
	if done != nil {
		<-done
	}
}

// TestJWKSRotationAcceptedWithinAnInterval: an issuer that publishes a new
// key at the moment it first signs with it (as Better Auth does) gets its
// tokens accepted within jwksRefetchInterval of their first use: a 503 with
// Retry-After until the next fetch is allowed, never a 401 that would send
// the user to sign in again for a token with the same kid. Made-up kids
// meanwhile cost no fetch, and once a fetch shows they are not in the set,
// they are 401s.
func TestJWKSRotationAcceptedWithinAnInterval(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	h := f.handler(newMemStore(defaultMaxTasks))
	call := func(s testSigner) *httptest.ResponseRecorder {
		return serve(t, h, "GET", "/api/u/tasks", "", bearer(s.token(t, claimsFor(f.clock, "u")))...)
	}
	if rec := call(f.ed); rec.Code != http.StatusOK || f.jwks.hits.Load() != 1 {
		t.Fatalf("first token: %d after %d fetches", rec.Code, f.jwks.hits.Load())
	}
	rotated := edSigner(t, "ed-rotated")
	f.jwks.serveKeys(f.ed.jwk, rotated.jwk) // published as it first signs
	rec := call(rotated)
	wantDetail(t, rec, http.StatusServiceUnavailable, "Authentication unavailable, try again shortly")
	if got, want := rec.Header().Get("Retry-After"), strconv.Itoa(int(jwksRefetchInterval/time.Second)); got != want {
		t.Errorf("Retry-After %q, want %q: the time until the next fetch is allowed", got, want)
	}
	for i := range 20 {
		if rec := call(edSigner(t, fmt.Sprint("made-up-", i))); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("made-up kid within the interval: %d, want 503", rec.Code)
		}
	}
	if got := f.jwks.hits.Load(); got != 1 {
		t.Errorf("%d fetches within the interval, want 1", got)
	}
	f.clock.advance(jwksRefetchInterval)
	if rec := call(rotated); rec.Code != http.StatusOK || f.jwks.hits.Load() != 2 {
		t.Errorf("the rotated key %v after its first use: %d after %d fetches, want 200 after 2", jwksRefetchInterval, rec.Code, f.jwks.hits.Load())
	}
	f.clock.advance(jwksRefetchInterval)
	wantUnauthorized(t, call(edSigner(t, "made-up-after")), "Invalid token", "")
	if got := f.jwks.hits.Load(); got != 3 {
		t.Errorf("%d fetches, want 3", got)
	}
}
