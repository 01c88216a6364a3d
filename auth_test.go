package main

// Authentication: the middleware, bearer tokens, their verification and
// claims, and the AUTH_* configuration. Every key and token is made here
// (Ed25519, RSA 2048, P-256, HMAC), key sets are served by httptest, and
// time comes from a test clock: no network, no sleeps.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testIssuer = "http://localhost:3000" // Better Auth's iss and aud: its base URL
	testSecret = "test-secret-of-at-least-32-bytes!!"
)

// testClock is a clock that moves only when told to.
type testClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)}
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// enc is base64url without padding, as JOSE writes it.
func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// testSigner signs tokens as one key; jwk is its public JWK (nil for HMAC).
type testSigner struct {
	alg, kid string
	sign     func(signed []byte) []byte
	jwk      map[string]any
}

// token signs claims with the signer's alg and kid in the header.
func (s testSigner) token(t testing.TB, claims map[string]any) string {
	t.Helper()
	header := map[string]any{"alg": s.alg, "typ": "JWT"}
	if s.kid != "" {
		header["kid"] = s.kid
	}
	return mintToken(t, header, claims, s.sign)
}

// mintToken builds a compact JWS from any header and claims.
func mintToken(t testing.TB, header, claims map[string]any, sign func([]byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return mintRaw(h, c, sign)
}

// mintRaw signs header and payload bytes as they are.
func mintRaw(header, payload []byte, sign func([]byte) []byte) string {
	signed := enc(header) + "." + enc(payload)
	return signed + "." + enc(sign([]byte(signed)))
}

// edSigner makes a fresh Ed25519 key, the kind Better Auth signs with.
func edSigner(t testing.TB, kid string) testSigner {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testSigner{alg: "EdDSA", kid: kid,
		sign: func(b []byte) []byte { return ed25519.Sign(priv, b) },
		jwk:  map[string]any{"kty": "OKP", "crv": "Ed25519", "x": enc(pub), "kid": kid}, // as Better Auth serves it
	}
}

// testRSAKey is made once: a 2048-bit key takes a while, under -race most.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// rsaSigner signs RS256 with the shared test RSA key.
func rsaSigner(kid string) testSigner {
	key := testRSAKey()
	return testSigner{alg: "RS256", kid: kid,
		sign: func(b []byte) []byte {
			sum := sha256.Sum256(b)
			sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
			if err != nil {
				panic(err)
			}
			return sig
		},
		jwk: map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
			"n": enc(key.N.Bytes()), "e": enc([]byte{1, 0, 1})},
	}
}

// ecSigner makes a fresh P-256 key that signs ES256 as JWS does (r || s).
func ecSigner(t testing.TB, kid string) (testSigner, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point := slices.Concat([]byte{4}, key.X.FillBytes(make([]byte, 32)), key.Y.FillBytes(make([]byte, 32))) // 0x04 || x || y
	return testSigner{alg: "ES256", kid: kid,
		sign: func(b []byte) []byte {
			sum := sha256.Sum256(b)
			r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
			if err != nil {
				panic(err)
			}
			sig := make([]byte, 64) // JWS: r || s, 32 bytes each
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
			return sig
		},
		jwk: map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "x": enc(point[1:33]), "y": enc(point[33:])},
	}, key
}

// hmacSigner MACs with key: HS256, HS384 or HS512.
func hmacSigner(alg string, key []byte) testSigner {
	h := sha256.New
	switch alg {
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	}
	return testSigner{alg: alg, sign: func(b []byte) []byte {
		mac := hmac.New(h, key)
		mac.Write(b)
		return mac.Sum(nil)
	}}
}

// claimsFor are the claims Better Auth's JWT plugin issues: 15 minutes,
// iss and aud its base URL.
func claimsFor(clock *testClock, sub string) map[string]any {
	now := clock.now().Unix()
	return map[string]any{"sub": sub, "iss": testIssuer, "aud": testIssuer, "iat": now, "exp": now + 900}
}

// with returns a copy of claims with the changes; a nil value deletes.
func with(claims map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// jwksServer serves a key set and counts the requests for it.
type jwksServer struct {
	srv    *httptest.Server
	hits   atomic.Int32
	mu     sync.Mutex // guards body and status
	body   []byte
	status int
}

func newJWKSServer(t testing.TB, keys ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serveKeys(keys...)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// serveKeys makes the server answer 200 with a set of these keys.
func (s *jwksServer) serveKeys(keys ...map[string]any) {
	body, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	s.serve(http.StatusOK, body)
}

// serve makes the server answer status with body.
func (s *jwksServer) serve(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

// authFixture is an authenticator on a test clock with every kind of key:
// Ed25519, RSA and P-256 keys in the served set, and the HS256 secret.
type authFixture struct {
	clock      *testClock
	jwks       *jwksServer
	ed, rs, ec testSigner
	hs         testSigner
	auth       *authenticator
}

// newAuthFixture configures every AUTH_* variable; change can alter that.
func newAuthFixture(t testing.TB, change ...func(*authConfig)) *authFixture {
	t.Helper()
	f := &authFixture{clock: newTestClock(), ed: edSigner(t, "ed-1"), rs: rsaSigner("rsa-1"),
		hs: hmacSigner("HS256", []byte(testSecret))}
	f.ec, _ = ecSigner(t, "ec-1")
	f.jwks = newJWKSServer(t, f.ed.jwk, f.rs.jwk, f.ec.jwk)
	cfg := authConfig{JWKSURL: f.jwks.srv.URL, HS256Secret: secretBytes(testSecret), Issuer: testIssuer, Audience: testIssuer}
	for _, c := range change {
		c(&cfg)
	}
	f.auth = newTestAuthenticator(t, cfg, f.clock)
	return f
}

// newTestAuthenticator is newAuthenticator on the test clock.
func newTestAuthenticator(t testing.TB, cfg authConfig, clock *testClock) *authenticator {
	t.Helper()
	a := newAuthenticator(cfg, discardLogger(), &http.Client{})
	a.now = clock.now
	if a.keys != nil {
		a.keys.now = clock.now
		t.Cleanup(a.keys.idle) // before the key server closes
	}
	return a
}

// handler is the whole API on store, with the fixture's authentication.
func (f *authFixture) handler(store taskStore) http.Handler {
	return newServer(discardLogger(), store, testCORS, f.auth, nil)
}

// bearer is the header pair for serve.
func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// wantUnauthorized checks a 401: the detail, a Bearer challenge with
// error="invalid_token" unless no token was sent, and the token nowhere in
// the answer.
func wantUnauthorized(t testing.TB, rec *httptest.ResponseRecorder, wantDetail, token string) {
	t.Helper()
	got := decodeAs[struct{ Detail string }](t, rec, http.StatusUnauthorized)
	if got.Detail != wantDetail {
		t.Errorf("detail = %q, want %q", got.Detail, wantDetail)
	}
	challenge := rec.Header().Get("WWW-Authenticate")
	if wantChallenge := challengeFor(wantDetail); challenge != wantChallenge {
		t.Errorf("WWW-Authenticate = %q, want %q", challenge, wantChallenge)
	}
	if len(token) > 8 && (strings.Contains(rec.Body.String(), token) || strings.Contains(fmt.Sprint(rec.Header()), token)) {
		t.Error("the answer echoes the token")
	}
}

// challengeFor is the WWW-Authenticate of a 401 with detail: Bearer
// without a token, else an invalid_token error whose description is the
// detail.
func challengeFor(detail string) string {
	if detail == "Not authenticated" {
		return "Bearer"
	}
	return `Bearer error="invalid_token", error_description="` + detail + `"`
}

// TestAuthAcceptsEachAlgorithm: a good token of each algorithm reaches the
// handlers: EdDSA (Better Auth's default, with or without a kid, under
// either name), RS256, ES256 and HS256; aud may be a string or an array.
func TestAuthAcceptsEachAlgorithm(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	h := f.handler(newMemStore(defaultMaxTasks))
	good := claimsFor(f.clock, "user-123")
	edNoKid := f.ed
	edNoKid.kid = ""
	edNewName := f.ed
	edNewName.alg = "Ed25519"
	for _, tt := range []struct {
		name  string
		token string
	}{
		{"EdDSA", f.ed.token(t, good)},
		{"EdDSA without kid", edNoKid.token(t, good)},
		{"Ed25519 alg name", edNewName.token(t, good)},
		{"RS256", f.rs.token(t, good)},
		{"ES256", f.ec.token(t, good)},
		{"HS256", f.hs.token(t, good)},
		{"aud array", f.ed.token(t, with(good, "aud", []string{"other", testIssuer}))},
		{"fractional exp", f.ed.token(t, with(good, "exp", float64(f.clock.now().Unix())+0.5))},
		{"nbf now", f.ed.token(t, with(good, "nbf", f.clock.now().Unix()))},
		{"scheme in lower case", f.ed.token(t, good)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			auth := "Bearer " + tt.token
			if tt.name == "scheme in lower case" {
				auth = "bearer  " + tt.token
			}
			created := decodeAs[testTask](t, serve(t, h, "POST", "/api/user-123/tasks", `{"title": "t"}`, "Authorization", auth), http.StatusCreated)
			rec := serve(t, h, "GET", "/api/user-123/tasks/"+created.ID, "", "Authorization", auth)
			if got := decodeAs[testTask](t, rec, http.StatusOK); got.ID != created.ID {
				t.Errorf("read back %+v", got)
			}
		})
	}
}

// TestAuthRefusals: every kind of bad token is a 401 with a Bearer
// challenge, and never reaches the store.
func TestAuthRefusals(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	jwksOnly := newAuthFixture(t, func(c *authConfig) { c.HS256Secret = nil })
	hsOnly := newAuthFixture(t, func(c *authConfig) { c.JWKSURL = "" })
	now := f.clock.now().Unix()
	good := claimsFor(f.clock, "u")

	// Keys an attacker can read, or make, used where they do not belong.
	edPub := f.ed.jwk["x"].(string)
	edPubBytes, _ := base64.RawURLEncoding.DecodeString(edPub)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&testRSAKey().PublicKey)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER})
	jwksText, _ := json.Marshal(map[string]any{"keys": []any{f.ed.jwk, f.rs.jwk, f.ec.jwk}})
	attacker := edSigner(t, "attacker")
	foreignSameKid := edSigner(t, f.ed.kid)
	_, ecKey := ecSigner(t, "unused")
	withKid := func(s testSigner, kid string) testSigner { s.kid = kid; return s }
	withAlg := func(s testSigner, alg string) testSigner { s.alg = alg; return s }
	asn1ES256 := func(b []byte) []byte {
		sum := sha256.Sum256(b)
		sig, _ := ecdsa.SignASN1(rand.Reader, ecKey, sum[:])
		return sig
	}
	pss := func(b []byte) []byte {
		sum := sha256.Sum256(b)
		sig, _ := rsa.SignPSS(rand.Reader, testRSAKey(), crypto.SHA256, sum[:], nil)
		return sig
	}
	noSig := func([]byte) []byte { return nil }
	tampered := func() string {
		tok := f.ed.token(t, with(good, "sub", "someone-else"))
		parts := strings.Split(tok, ".")
		body, _ := json.Marshal(good)
		return parts[0] + "." + enc(body) + "." + parts[2]
	}()
	// Keys the served set holds but may not be used: for encryption, bound
	// to another algorithm, symmetric.
	encKey, _ := ecSigner(t, "ec-enc")
	encKey.jwk["use"] = "enc"
	psKey := rsaSigner("rsa-ps")
	psKey.jwk["alg"] = "PS256"
	octSecret := []byte("a-symmetric-key-published-in-the-jwks!!")
	f.jwks.serveKeys(f.ed.jwk, f.rs.jwk, f.ec.jwk, encKey.jwk, psKey.jwk,
		map[string]any{"kty": "oct", "kid": "oct-1", "k": enc(octSecret)})

	tests := []struct {
		name   string
		auth   *authFixture
		header []string // Authorization values; nil sends none
		detail string
	}{
		{"no Authorization header", f, nil, "Not authenticated"},
		{"Basic scheme", f, []string{"Basic dTpw"}, "Not authenticated"},
		{"Bearer without a token", f, []string{"Bearer "}, "Not authenticated"},
		{"two Authorization headers", f, []string{"Bearer " + f.ed.token(t, good), "Bearer " + f.ed.token(t, good)}, "Invalid token"},
		{"one part", f, []string{"Bearer abc"}, "Invalid token"},
		{"two parts", f, []string{"Bearer abc.def"}, "Invalid token"},
		{"four parts", f, []string{"Bearer " + f.ed.token(t, good) + ".x"}, "Invalid token"},
		{"header not base64url", f, []string{"Bearer !!!." + strings.SplitN(f.ed.token(t, good), ".", 2)[1]}, "Invalid token"},
		{"padded base64", f, []string{"Bearer " + enc([]byte(`{"alg":"HS256"}`)) + "=.e30.AA"}, "Invalid token"},
		{"header not JSON", f, []string{"Bearer " + mintRaw([]byte("alg HS256"), []byte("{}"), f.hs.sign)}, "Invalid token"},
		{"payload not JSON", f, []string{"Bearer " + mintRaw([]byte(`{"alg":"HS256"}`), []byte("sub=u"), f.hs.sign)}, "Invalid token"},
		{"token over 8 KiB", f, []string{"Bearer " + f.hs.token(t, with(good, "pad", strings.Repeat("x", 8<<10)))}, "Invalid token"},
		{"alg none", f, []string{"Bearer " + mintToken(t, map[string]any{"alg": "none"}, good, noSig)}, "Invalid token"},
		{"alg None", f, []string{"Bearer " + mintToken(t, map[string]any{"alg": "None"}, good, noSig)}, "Invalid token"},
		{"alg none with a MAC", f, []string{"Bearer " + mintToken(t, map[string]any{"alg": "none"}, good, f.hs.sign)}, "Invalid token"},
		{"no alg", f, []string{"Bearer " + mintToken(t, map[string]any{"kid": "ed-1"}, good, f.ed.sign)}, "Invalid token"},
		{"HS256 keyed with the Ed25519 public key", f, []string{"Bearer " + withKid(hmacSigner("HS256", edPubBytes), "ed-1").token(t, good)}, "Invalid token"},
		{"HS256 keyed with the Ed25519 x text", jwksOnly, []string{"Bearer " + withKid(hmacSigner("HS256", []byte(edPub)), "ed-1").token(t, good)}, "Invalid token"},
		{"HS256 keyed with the RSA public key PEM", f, []string{"Bearer " + withKid(hmacSigner("HS256", rsaPEM), "rsa-1").token(t, good)}, "Invalid token"},
		{"HS256 keyed with the RSA public key DER", jwksOnly, []string{"Bearer " + withKid(hmacSigner("HS256", rsaDER), "rsa-1").token(t, good)}, "Invalid token"},
		{"HS256 keyed with the JWKS", f, []string{"Bearer " + hmacSigner("HS256", jwksText).token(t, good)}, "Invalid token"},
		{"HS256 keyed with an oct key of the JWKS", f, []string{"Bearer " + withKid(hmacSigner("HS256", octSecret), "oct-1").token(t, good)}, "Invalid token"},
		{"HS256 with AUTH_HS256_SECRET unset", jwksOnly, []string{"Bearer " + f.hs.token(t, good)}, "Invalid token"},
		{"HS256 with another secret", f, []string{"Bearer " + hmacSigner("HS256", []byte(testSecret+"x")).token(t, good)}, "Invalid token"},
		{"EdDSA with AUTH_JWKS_URL unset", hsOnly, []string{"Bearer " + f.ed.token(t, good)}, "Invalid token"},
		{"EdDSA by a foreign key under a known kid", f, []string{"Bearer " + foreignSameKid.token(t, good)}, "Invalid token"},
		// Unknown kids, each on a fixture of its own: the set is fetched for
		// it, and the kid is not there (within jwksRefetchInterval of another
		// fetch it would be a 503 instead; see TestJWKSRefetchRateLimit).
		{"EdDSA by a foreign key under an unknown kid", newAuthFixture(t), []string{"Bearer " + attacker.token(t, good)}, "Invalid token"},
		{"EdDSA with the signer's key in the header", newAuthFixture(t), []string{"Bearer " + mintToken(t,
			map[string]any{"alg": "EdDSA", "kid": "attacker", "jwk": attacker.jwk, "jku": "http://attacker.example/jwks"}, good, attacker.sign)}, "Invalid token"},
		{"payload changed after signing", f, []string{"Bearer " + tampered}, "Invalid token"},
		{"RS256 under the kid of the Ed25519 key", f, []string{"Bearer " + withKid(f.rs, "ed-1").token(t, good)}, "Invalid token"},
		{"EdDSA under the kid of the RSA key", f, []string{"Bearer " + withKid(f.ed, "rsa-1").token(t, good)}, "Invalid token"},
		{"RS256 with a key bound to PS256", f, []string{"Bearer " + psKey.token(t, good)}, "Invalid token"},
		{"ES256 with a key for encryption", f, []string{"Bearer " + encKey.token(t, good)}, "Invalid token"},
		{"ES256 signature in ASN.1", f, []string{"Bearer " + mintToken(t, map[string]any{"alg": "ES256", "kid": "ec-1"}, good, asn1ES256)}, "Invalid token"},
		{"HS384", f, []string{"Bearer " + hmacSigner("HS384", []byte(testSecret)).token(t, good)}, "Invalid token"},
		{"HS512", f, []string{"Bearer " + hmacSigner("HS512", []byte(testSecret)).token(t, good)}, "Invalid token"},
		{"PS256", f, []string{"Bearer " + mintToken(t, map[string]any{"alg": "PS256", "kid": "rsa-1"}, good, pss)}, "Invalid token"},
		{"RS384 name on an RS256 signature", f, []string{"Bearer " + withAlg(f.rs, "RS384").token(t, good)}, "Invalid token"},
		{"crit header", f, []string{"Bearer " + mintToken(t, map[string]any{"alg": "HS256", "crit": []string{"exp"}, "exp": now + 60}, good, f.hs.sign)}, "Invalid token"},
		{"crit b64", f, []string{"Bearer " + mintToken(t, map[string]any{"alg": "HS256", "crit": []string{"b64"}, "b64": false}, good, f.hs.sign)}, "Invalid token"},
		{"no exp", f, []string{"Bearer " + f.ed.token(t, with(good, "exp", nil))}, "Invalid token"},
		{"exp as a string", f, []string{"Bearer " + f.ed.token(t, with(good, "exp", fmt.Sprint(now+900)))}, "Invalid token"},
		{"expired", f, []string{"Bearer " + f.ed.token(t, with(good, "exp", now-3600))}, "Token expired"},
		{"not yet valid", f, []string{"Bearer " + f.ed.token(t, with(good, "nbf", now+3600))}, "Token not yet valid"},
		{"no sub", f, []string{"Bearer " + f.ed.token(t, with(good, "sub", nil))}, "Invalid token"},
		{"empty sub", f, []string{"Bearer " + f.ed.token(t, with(good, "sub", ""))}, "Invalid token"},
		{"sub not a string", f, []string{"Bearer " + f.ed.token(t, with(good, "sub", 42))}, "Invalid token"},
		{"other issuer", f, []string{"Bearer " + f.ed.token(t, with(good, "iss", "https://evil.example"))}, "Invalid token"},
		{"no issuer", f, []string{"Bearer " + f.ed.token(t, with(good, "iss", nil))}, "Invalid token"},
		{"other audience", f, []string{"Bearer " + f.ed.token(t, with(good, "aud", "https://other.example"))}, "Invalid token"},
		{"audience array without ours", f, []string{"Bearer " + f.ed.token(t, with(good, "aud", []string{"a", "b"}))}, "Invalid token"},
		{"no audience", f, []string{"Bearer " + f.ed.token(t, with(good, "aud", nil))}, "Invalid token"},
		{"audience not a string", f, []string{"Bearer " + f.ed.token(t, with(good, "aud", 7))}, "Invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &stubStore{err: errTaskNotFound}
			req := httptest.NewRequest("GET", "/api/u/tasks", nil)
			for _, v := range tt.header {
				req.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			tt.auth.handler(store).ServeHTTP(rec, req)
			token := ""
			if len(tt.header) > 0 {
				token = strings.TrimPrefix(tt.header[0], "Bearer ")
			}
			wantUnauthorized(t, rec, tt.detail, token)
			if n := store.calls.Load(); n != 0 {
				t.Errorf("the store was called %d times", n)
			}
		})
	}
}

// TestAuthLeeway: exp and nbf allow 30 s of clock skew, and no more.
func TestAuthLeeway(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	h := f.handler(newMemStore(defaultMaxTasks))
	now := f.clock.now().Unix()
	good := claimsFor(f.clock, "u")
	for _, tt := range []struct {
		name   string
		claims map[string]any
		status int
	}{
		{"expired 30 s ago", with(good, "exp", now-30), http.StatusOK},
		{"expired 31 s ago", with(good, "exp", now-31), http.StatusUnauthorized},
		{"valid from 30 s on", with(good, "nbf", now+30), http.StatusOK},
		{"valid from 31 s on", with(good, "nbf", now+31), http.StatusUnauthorized},
	} {
		for _, s := range []testSigner{f.ed, f.hs} {
			if rec := serve(t, h, "GET", "/api/u/tasks", "", bearer(s.token(t, tt.claims))...); rec.Code != tt.status {
				t.Errorf("%s, %s: status %d, want %d", tt.name, s.alg, rec.Code, tt.status)
			}
		}
	}
	// The same token, as the clock moves on.
	tok := f.ed.token(t, good)
	f.clock.advance(15*time.Minute + authLeeway)
	if rec := serve(t, h, "GET", "/api/u/tasks", "", bearer(tok)...); rec.Code != http.StatusOK {
		t.Errorf("at exp + leeway: %d, want 200", rec.Code)
	}
	f.clock.advance(time.Second)
	wantUnauthorized(t, serve(t, h, "GET", "/api/u/tasks", "", bearer(tok)...), "Token expired", tok)
}

// TestAuthIssuerAudienceOptional: without AUTH_ISSUER and AUTH_AUDIENCE,
// any iss and aud, or none, is accepted.
func TestAuthIssuerAudienceOptional(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, func(c *authConfig) { c.Issuer, c.Audience = "", "" })
	h := f.handler(newMemStore(defaultMaxTasks))
	good := claimsFor(f.clock, "u")
	for _, claims := range []map[string]any{
		good, with(good, "iss", "https://other.example", "aud", "x"), with(good, "iss", nil, "aud", nil),
	} {
		if rec := serve(t, h, "GET", "/api/u/tasks", "", bearer(f.ed.token(t, claims))...); rec.Code != http.StatusOK {
			t.Errorf("%v: status %d, want 200", claims, rec.Code)
		}
	}
}

// TestAuthOtherUsersPath: a valid token is good for its own sub only:
// another user's path is a 403 on every endpoint, before any store call,
// whatever the path's escaping.
func TestAuthOtherUsersPath(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	alice := f.ed.token(t, claimsFor(f.clock, "alice"))
	store := &stubStore{err: errTaskNotFound}
	h := f.handler(store)
	for _, ep := range endpoints {
		path := ep.target("bob", missingID)
		wantDetail(t, serve(t, h, ep.method, path, ep.body, bearer(alice)...), http.StatusForbidden,
			"Not allowed to access another user's tasks")
		if path != "/api/bob/tasks" { // the same, spelt in other ways
			continue
		}
		for _, target := range []string{"/api/%62ob/tasks", "/%61pi/bob/tasks", "/api/alice%2F..%2Fbob/tasks", "/api/ALICE/tasks"} {
			if rec := serve(t, h, ep.method, target, ep.body, bearer(alice)...); rec.Code != http.StatusForbidden {
				t.Errorf("%s %s with alice's token: status %d, want 403", ep.method, target, rec.Code)
			}
		}
	}
	if n := store.calls.Load(); n != 0 {
		t.Errorf("the store was called %d times", n)
	}
	// A user id that needs escaping matches its sub once unescaped, as the
	// handlers see it.
	mem := f.handler(newMemStore(defaultMaxTasks))
	slash := f.ed.token(t, claimsFor(f.clock, "a/b é"))
	if rec := serve(t, mem, "GET", "/api/a%2Fb%20%C3%A9/tasks", "", bearer(slash)...); rec.Code != http.StatusOK {
		t.Errorf("escaped user id: status %d, want 200", rec.Code)
	}
}

// TestAuthBeforeStore: without a token every endpoint is a 401 and the
// store is never called; with the owner's token the request goes through.
func TestAuthBeforeStore(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	for _, ep := range endpoints {
		target := ep.target("u", missingID)
		store := &stubStore{err: errTaskNotFound}
		h := f.handler(store)
		wantUnauthorized(t, serve(t, h, ep.method, target, ep.body), "Not authenticated", "")
		if n := store.calls.Load(); n != 0 {
			t.Errorf("%s %s without a token: the store was called %d times", ep.method, target, n)
		}
		serve(t, h, ep.method, target, ep.body, bearer(f.ed.token(t, claimsFor(f.clock, "u")))...)
		if n := store.calls.Load(); n != 1 {
			t.Errorf("%s %s with a good token: the store was called %d times, want 1", ep.method, target, n)
		}
	}
}

// TestCheckOrder holds docs/api.md's order of the checks: the route (404,
// 405) before the token, the token before the body's size and the fields.
func TestCheckOrder(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	h := f.handler(newMemStore(defaultMaxTasks))
	if rec := serve(t, h, "GET", "/api/u/nothing/here", ""); rec.Code != http.StatusNotFound {
		t.Errorf("no route, no token: %d, want 404", rec.Code)
	}
	if rec := serve(t, h, "DELETE", "/api/u/tasks", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("a route without this method, no token: %d, want 405", rec.Code)
	}
	huge := `{"title": "` + strings.Repeat("x", maxBodyBytes) + `"}`
	wantUnauthorized(t, serve(t, h, "POST", "/api/u/tasks", huge), "Not authenticated", "")
	wantUnauthorized(t, serve(t, h, "POST", "/api/u/tasks", `{"title": ""}`), "Not authenticated", "")
	if rec := serve(t, h, "POST", "/api/u/tasks", huge, bearer(f.ed.token(t, claimsFor(f.clock, "u")))...); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized body with a good token: %d, want 413", rec.Code)
	}
}

// TestAuthOnPostgres: the same gate in front of the PostgreSQL store: 401
// and 403 leave the user's rows alone, the owner's token reads and writes.
func TestAuthOnPostgres(t *testing.T) {
	t.Parallel()
	pg := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
	f := newAuthFixture(t)
	h := f.handler(pg)
	user := newUserID(t)
	owner := bearer(f.ed.token(t, claimsFor(f.clock, user)))
	other := bearer(f.hs.token(t, claimsFor(f.clock, user+"-other")))
	wantUnauthorized(t, serve(t, h, "POST", "/api/"+user+"/tasks", `{"title": "t"}`), "Not authenticated", "")
	if rec := serve(t, h, "POST", "/api/"+user+"/tasks", `{"title": "t"}`, other...); rec.Code != http.StatusForbidden {
		t.Errorf("POST with another user's token: %d, want 403", rec.Code)
	}
	created := decodeAs[testTask](t, serve(t, h, "POST", "/api/"+user+"/tasks", `{"title": "mine"}`, owner...), http.StatusCreated)
	for _, ep := range endpoints {
		target := ep.target(user, created.ID)
		if rec := serve(t, h, ep.method, target, ep.body, other...); rec.Code != http.StatusForbidden {
			t.Errorf("%s %s with another user's token: %d, want 403", ep.method, target, rec.Code)
		}
	}
	list := decodeAs[[]testTask](t, serve(t, h, "GET", "/api/"+user+"/tasks", "", owner...), http.StatusOK)
	if len(list) != 1 || !equalTasks(list[0], created) {
		t.Errorf("after the refused requests the owner sees %+v, want only %+v unchanged", list, created)
	}
}

// TestAuthOpenRoutes: only the /api/ routes need a token; health,
// readiness, the documentation and paths or methods no route takes do not.
func TestAuthOpenRoutes(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	h := f.handler(newMemStore(defaultMaxTasks))
	for _, target := range []string{"/healthz", "/readyz"} {
		if rec := serve(t, h, "GET", target, ""); rec.Code != http.StatusOK {
			t.Errorf("GET %s without a token: %d, want 200", target, rec.Code)
		}
	}
	for _, target := range []string{"/openapi.json", "/docs", "/nowhere", "/api", "/apix/u/tasks"} {
		if rec := serve(t, h, "GET", target, ""); rec.Code == http.StatusUnauthorized {
			t.Errorf("GET %s without a token: 401, want it left open", target)
		}
	}
	// Authentication belongs to the routes: a path no route takes is a 404,
	// and a method a route does not take a 405, before any token check;
	// neither says anything about any user's tasks.
	if rec := serve(t, h, "GET", "/api/u/nothing", ""); rec.Code != http.StatusNotFound {
		t.Errorf("GET /api/u/nothing without a token: %d, want 404", rec.Code)
	}
	if rec := serve(t, h, "POST", "/api/u/tasks/"+newTaskID(), ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST on a task without a token: %d, want 405", rec.Code)
	}
}

// TestAuthCORS: a preflight is answered without a token and allows the
// Authorization header; a 401 carries the CORS headers a browser needs to
// read it.
func TestAuthCORS(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	store := &stubStore{err: errTaskNotFound}
	h := f.handler(store)
	rec := serve(t, h, "OPTIONS", "/api/u/tasks", "", "Origin", defaultCORSOrigins,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	if rec.Code != http.StatusNoContent {
		t.Fatalf("preflight: %d, want 204", rec.Code)
	}
	if got := rec.Header().Get("Access-Control-Allow-Headers"); !strings.Contains(strings.ToLower(got), "authorization") {
		t.Errorf("Access-Control-Allow-Headers = %q, want authorization allowed", got)
	}
	rec = serve(t, h, "GET", "/api/u/tasks", "", "Origin", defaultCORSOrigins)
	wantUnauthorized(t, rec, "Not authenticated", "")
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != defaultCORSOrigins {
		t.Errorf("401 Access-Control-Allow-Origin = %q", got)
	}
	if n := store.calls.Load(); n != 0 {
		t.Errorf("the store was called %d times", n)
	}
}

// TestAuthOff: with neither variable set there is no authentication at
// all, and start-up says so at WARN.
func TestAuthOff(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	if a := startAuth(authConfig{}, slog.New(slog.NewTextHandler(&buf, nil))); a != nil {
		t.Fatal("startAuth with no variables returned an authenticator")
	}
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "authentication is OFF") {
		t.Errorf("no start-up warning:\n%s", buf.String())
	}
	h := newServer(discardLogger(), newMemStore(defaultMaxTasks), testCORS, nil, nil)
	for _, header := range [][]string{nil, {"Authorization", "Bearer not-a-token"}} {
		if rec := serve(t, h, "POST", "/api/u/tasks", `{"title": "t"}`, header...); rec.Code != http.StatusCreated {
			t.Errorf("POST with %q: %d, want 201", header, rec.Code)
		}
	}
}

// TestAuthLog: a refusal is logged with its reason and route, never with
// the token or the user id.
func TestAuthLog(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	var buf strings.Builder
	h := newServer(slog.New(slog.NewTextHandler(&buf, nil)), newMemStore(defaultMaxTasks), testCORS, f.auth, nil)
	tok := f.ed.token(t, with(claimsFor(f.clock, "alice"), "exp", f.clock.now().Unix()-3600))
	serve(t, h, "GET", "/api/alice/tasks", "", bearer(tok)...)
	log := buf.String()
	for _, want := range []string{
		`level=INFO msg=unauthenticated method=GET route="GET /api/{user_id}/tasks"`, `err="exp is past"`,
		`msg=request method=GET route="GET /api/{user_id}/tasks" status=401`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, tok[:20]) || strings.Contains(log, "alice") {
		t.Errorf("the log shows the token or the user id:\n%s", log)
	}
}

// ---------------------------------------------------------------------------
// Configuration

// TestLoadConfigAuth: off by default; the AUTH_* variables are read, and
// printing the config never shows the secret.
func TestLoadConfigAuth(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(envMap(nil))
	if err != nil || cfg.Auth.enabled() || cfg.Auth.JWKSURL != "" || cfg.Auth.HS256Secret != nil {
		t.Errorf("default auth config = %+v, %v; want off", cfg.Auth, err)
	}
	cfg, err = loadConfig(envMap(map[string]string{
		"AUTH_JWKS_URL":     " https://app.example/api/auth/jwks ",
		"AUTH_HS256_SECRET": testSecret,
		"AUTH_ISSUER":       "https://app.example",
		"AUTH_AUDIENCE":     "https://app.example",
	}))
	want := authConfig{JWKSURL: "https://app.example/api/auth/jwks", HS256Secret: secretBytes(testSecret),
		Issuer: "https://app.example", Audience: "https://app.example"}
	if err != nil || fmt.Sprintf("%#v", cfg.Auth) != fmt.Sprintf("%#v", want) || string(cfg.Auth.HS256Secret) != testSecret {
		t.Errorf("auth config = %+v, %v; want %+v", cfg.Auth, err, want)
	}
	if printed := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.Auth.HS256Secret); strings.Contains(printed, testSecret) {
		t.Errorf("printing the config shows the secret: %s", printed)
	}
	for _, vars := range []map[string]string{
		{"AUTH_JWKS_URL": "http://localhost:3000/api/auth/jwks"},
		{"AUTH_HS256_SECRET": strings.Repeat("s", 32)},
	} {
		if cfg, err := loadConfig(envMap(vars)); err != nil || !cfg.Auth.enabled() {
			t.Errorf("%v: %+v, %v; want authentication on", vars, cfg.Auth, err)
		}
	}
}

// TestLoadConfigRejectsBadAuthValues: each bad value is an error naming its
// variable, never showing the secret.
func TestLoadConfigRejectsBadAuthValues(t *testing.T) {
	t.Parallel()
	short := "only-31-bytes-of-secret-xxxxxxx"
	for _, vars := range []map[string]string{
		{"AUTH_JWKS_URL": "ftp://app.example/jwks"},
		{"AUTH_JWKS_URL": "app.example/api/auth/jwks"},
		{"AUTH_JWKS_URL": "https://"},
		{"AUTH_JWKS_URL": "https://app.example:port/jwks"},
		{"AUTH_HS256_SECRET": short},
		{"AUTH_ISSUER": "https://app.example"},
		{"AUTH_AUDIENCE": "https://app.example"},
	} {
		if err := wantConfigError(t, vars); err != nil && strings.Contains(err.Error(), short) {
			t.Errorf("error %q shows the secret", err)
		}
	}
}
