package main

// Bearer-token authentication for the /api/ routes: JSON Web Tokens checked
// with the standard library's crypto against a JWK set fetched from
// AUTH_JWKS_URL (EdDSA, RS256, ES256) and/or an HS256 shared secret
// (AUTH_HS256_SECRET). Off, with a start-up warning, when neither is set.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits and timings of authentication.
const (
	// authLeeway is the clock skew allowed on exp and nbf between the
	// frontend that signs and this service.
	authLeeway = 30 * time.Second
	// maxTokenBytes bounds the work spent on a token before its signature
	// is checked; real tokens are well under 2 KiB.
	maxTokenBytes = 8 << 10
	// minHS256SecretBytes: RFC 7518 §3.2 asks for a key at least as long as
	// the hash output.
	minHS256SecretBytes = 32

	jwksFetchTimeout = 5 * time.Second
	maxJWKSBytes     = 1 << 20
	// jwksRefetchInterval is the least time between two fetches of the key
	// set, so tokens with made-up kids cannot turn this service into a
	// flood against the key server.
	jwksRefetchInterval = time.Minute
	// jwksEmptyRetry replaces it while no key set was ever loaded: then no
	// token can be checked at all, and the key server is most likely
	// starting up alongside this service.
	jwksEmptyRetry = 5 * time.Second
	// jwksMaxAge: an older key set is refreshed in the background, so a key
	// removed from the set (revoked) stops being accepted.
	jwksMaxAge = time.Hour

	minRSABits = 2048
	maxRSABits = 8192 // bounds the cost of one verification
)

// JWS algorithm names. "Ed25519" is RFC 9864's fully specified name for
// what "EdDSA" means with an Ed25519 key; Better Auth writes "EdDSA".
const (
	algEdDSA   = "EdDSA"
	algEd25519 = "Ed25519"
	algRS256   = "RS256"
	algES256   = "ES256"
	algHS256   = "HS256"
)

// b64 decodes JWS parts: base64url without padding, and strict, so each
// token has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// ---------------------------------------------------------------------------
// Configuration

// authConfig is what the AUTH_* variables ask for; the zero value is no
// authentication.
type authConfig struct {
	JWKSURL     string      // AUTH_JWKS_URL: where the public keys are
	HS256Secret secretBytes // AUTH_HS256_SECRET: nil refuses HS256
	Issuer      string      // AUTH_ISSUER: required iss, if set
	Audience    string      // AUTH_AUDIENCE: required in aud, if set
}

// enabled reports whether any key to check tokens with is configured.
func (c authConfig) enabled() bool { return c.JWKSURL != "" || c.HS256Secret != nil }

// secretBytes is a key that prints as [redacted], so logging or printing
// the config cannot show it.
type secretBytes []byte

func (secretBytes) String() string   { return "[redacted]" }
func (secretBytes) GoString() string { return "[redacted]" }

// loadAuthConfig reads and checks the AUTH_* variables; a bad value is an
// error naming the variable, never showing a secret.
func loadAuthConfig(lookupEnv lookupFunc) (authConfig, error) {
	var c authConfig
	if raw := getenvDefault(lookupEnv, "AUTH_JWKS_URL", ""); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return authConfig{}, errors.New("AUTH_JWKS_URL must be an https:// or http:// URL, " +
				"such as https://app.example/api/auth/jwks")
		}
		c.JWKSURL = u.String()
	}
	if raw := getenvDefault(lookupEnv, "AUTH_HS256_SECRET", ""); raw != "" {
		if len(raw) < minHS256SecretBytes {
			return authConfig{}, fmt.Errorf("AUTH_HS256_SECRET is %d bytes; it must be at least %d "+
				"(generate one with: openssl rand -base64 32)", len(raw), minHS256SecretBytes)
		}
		c.HS256Secret = secretBytes(raw)
	}
	c.Issuer = getenvDefault(lookupEnv, "AUTH_ISSUER", "")
	c.Audience = getenvDefault(lookupEnv, "AUTH_AUDIENCE", "")
	if !c.enabled() {
		// Checks asked for without a key to check with would leave the API
		// open while the operator believes it is closed.
		for key, v := range map[string]string{"AUTH_ISSUER": c.Issuer, "AUTH_AUDIENCE": c.Audience} {
			if v != "" {
				return authConfig{}, fmt.Errorf("%s is set but neither AUTH_JWKS_URL nor AUTH_HS256_SECRET is: "+
					"set one of them to turn authentication on", key)
			}
		}
	}
	return c, nil
}

// startAuth returns the authenticator cfg asks for, or nil (no
// authentication, with a warning). It starts fetching the key set in the
// background: a key server that is down does not hold up start-up, and the
// keys are fetched again when a token needs them.
func startAuth(cfg authConfig, log *slog.Logger) *authenticator {
	if !cfg.enabled() {
		log.Warn("AUTH_JWKS_URL and AUTH_HS256_SECRET are not set: authentication is OFF, " +
			"anyone who can reach the service can read and change every user's tasks")
		return nil
	}
	a := newAuthenticator(cfg, log, &http.Client{})
	if a.keys != nil {
		u, _ := url.Parse(cfg.JWKSURL)
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			log.Warn("AUTH_JWKS_URL uses plain http: whoever can tamper with that traffic can swap the keys")
		}
		a.keys.fetchInBackground()
	}
	log.Info("authentication on", "jwks_url", redactedURL(cfg.JWKSURL), "hs256", cfg.HS256Secret != nil,
		"issuer", cfg.Issuer, "audience", cfg.Audience)
	return a
}

// isLoopback reports whether host names this machine, where plain http
// cannot be tampered with on the way.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// redactedURL is raw without a password, for logs.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

// ---------------------------------------------------------------------------
// The middleware

// withAuth requires, on /api/ paths, a valid bearer token whose subject is
// the path's user_id: 401 without one, 403 for another user's path, before
// any handler (and so any store call) runs. Other paths stay open. mux only
// names the route in the access log of a refused request. A nil a lets
// everything through.
func withAuth(log *slog.Logger, a *authenticator, mux *http.ServeMux, next http.Handler) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID, isAPI := apiUserID(r)
		if !isAPI {
			next.ServeHTTP(w, r)
			return
		}
		token, err := bearerToken(r)
		var sub string
		if err == nil {
			sub, err = a.verify(r.Context(), token)
		}
		if err == nil && sub != userID {
			err = errWrongSubject
		}
		if err != nil {
			_, r.Pattern = mux.Handler(r) // the mux never runs; the access log wants the route
			writeAuthError(w, r, log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// apiUserID reports whether r is for an /api/ path, and the user_id the
// mux will give the route. The unescaped path decides the first (so
// /%61pi/u/tasks is an /api/ path, as it is to the mux); the user_id is
// taken as the mux takes it: the second segment of the escaped path,
// unescaped, so /api/a%2Fb/tasks is user "a/b".
func apiUserID(r *http.Request) (userID string, isAPI bool) {
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		return "", false
	}
	_, rest := cutSegment(r.URL.EscapedPath())
	second, _ := cutSegment(rest)
	return unescapeSegment(second), true
}

// cutSegment splits "/a/b/c" into "a" and "/b/c".
func cutSegment(p string) (seg, rest string) {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

// unescapeSegment unescapes as the mux does: a bad escape stays as it is.
func unescapeSegment(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header (scheme in any case, RFC 7235). Tokens in the query string are not
// read: URLs end up in logs and browser history.
func bearerToken(r *http.Request) (string, error) {
	values := r.Header["Authorization"]
	if len(values) > 1 {
		return "", invalidToken("more than one Authorization header")
	}
	if len(values) == 0 {
		return "", errNoToken
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	token = strings.TrimLeft(token, " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", errNoToken
	}
	return token, nil
}

// tokenError is why a token was refused: detail goes to the client, reason
// to the log. Neither ever holds the token or its claims.
type tokenError struct {
	detail  string
	reason  string
	noError bool // RFC 6750 §3.1: no error code when no token was sent
}

func (e *tokenError) Error() string { return e.reason }

// challenge is the WWW-Authenticate value of the 401.
func (e *tokenError) challenge() string {
	if e.noError {
		return "Bearer"
	}
	return `Bearer error="invalid_token", error_description="` + e.detail + `"`
}

func invalidToken(reason string) error {
	return &tokenError{detail: "Invalid token", reason: reason}
}

var (
	errNoToken         = &tokenError{detail: "Not authenticated", reason: "no bearer token", noError: true}
	errTokenExpired    = &tokenError{detail: "Token expired", reason: "exp is past"}
	errTokenNotYet     = &tokenError{detail: "Token not yet valid", reason: "nbf is in the future"}
	errWrongSubject    = errors.New("the token's sub is not the path's user_id")
	errKeysUnavailable = errors.New("the key set cannot be fetched")
)

// writeAuthError answers a refused request: 401 for a token problem, 403
// for another user's path, 503 when the keys to check it cannot be had.
func writeAuthError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if te, ok := errors.AsType[*tokenError](err); ok {
		logRequestError(log, slog.LevelInfo, "unauthenticated", w, r, err)
		w.Header().Set("WWW-Authenticate", te.challenge())
		writeJSON(w, http.StatusUnauthorized, detail{te.detail})
		return
	}
	if errors.Is(err, errWrongSubject) {
		logRequestError(log, slog.LevelInfo, "forbidden", w, r, err)
		writeJSON(w, http.StatusForbidden, detail{"Not allowed to access another user's tasks"})
		return
	}
	// The token may be good: a 401 would send the user to sign in again
	// for nothing.
	logRequestError(log, slog.LevelWarn, "cannot check token", w, r, err)
	w.Header().Set("Retry-After", retryAfterSeconds)
	writeJSON(w, http.StatusServiceUnavailable, detail{"Authentication unavailable, try again shortly"})
}

// ---------------------------------------------------------------------------
// Token verification

// authenticator checks bearer tokens. A nil *authenticator is no
// authentication.
type authenticator struct {
	secret   []byte     // HS256 key; nil refuses HS256
	keys     *jwksCache // nil refuses every public-key algorithm
	issuer   string     // required iss; "" accepts any
	audience string     // required among aud; "" accepts any
	now      func() time.Time
}

// newAuthenticator builds the authenticator cfg asks for; client fetches the
// key set. Nothing is fetched yet.
func newAuthenticator(cfg authConfig, log *slog.Logger, client *http.Client) *authenticator {
	a := &authenticator{secret: cfg.HS256Secret, issuer: cfg.Issuer, audience: cfg.Audience, now: time.Now}
	if cfg.JWKSURL != "" {
		a.keys = newJWKSCache(cfg.JWKSURL, client, log)
	}
	return a
}

// jwsHeader is the part of a JOSE header this service reads.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// jwtClaims are the claims this service checks. aud is read only when an
// audience is required; it may be a string or an array.
type jwtClaims struct {
	Sub string          `json:"sub"`
	Iss string          `json:"iss"`
	Aud json.RawMessage `json:"aud"`
	Exp *float64        `json:"exp"`
	Nbf *float64        `json:"nbf"`
}

// verify checks a compact JWS token and returns its subject. A refused
// token is a *tokenError; an error wrapping errKeysUnavailable means it
// could not be checked.
func (a *authenticator) verify(ctx context.Context, token string) (string, error) {
	if len(token) > maxTokenBytes {
		return "", invalidToken("token too long")
	}
	h64, rest, ok := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.IndexByte(s64, '.') >= 0 {
		return "", invalidToken("not three dot-separated parts")
	}
	// One buffer for the three decoded parts: one allocation, not three.
	buf := make([]byte, b64.DecodedLen(len(h64))+b64.DecodedLen(len(p64))+b64.DecodedLen(len(s64)))
	header, err := decodePart(buf, h64)
	if err != nil {
		return "", invalidToken("header is not base64url")
	}
	payload, err := decodePart(buf[len(header):], p64)
	if err != nil {
		return "", invalidToken("payload is not base64url")
	}
	sig, err := decodePart(buf[len(header)+len(payload):], s64)
	if err != nil {
		return "", invalidToken("signature is not base64url")
	}
	var h jwsHeader
	if err := json.Unmarshal(header, &h); err != nil {
		return "", invalidToken("header is not a JSON object of the expected types")
	}
	if h.Crit != nil {
		// RFC 7515 §4.1.11: an extension marked critical that is not
		// understood makes the token invalid, and none is understood here.
		return "", invalidToken("crit header present")
	}
	signed := token[:len(h64)+1+len(p64)]
	if err := a.checkSignature(ctx, h, signed, sig); err != nil {
		return "", err
	}
	// Claims are read only once the signature holds.
	var c jwtClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", invalidToken("claims are not a JSON object of the expected types")
	}
	if err := a.checkClaims(c); err != nil {
		return "", err
	}
	return c.Sub, nil
}

// decodePart decodes one base64url part of a token into dst.
func decodePart(dst []byte, s string) ([]byte, error) {
	n, err := b64.Decode(dst, []byte(s))
	return dst[:n], err
}

// checkSignature checks sig over signed with the algorithm h names, and
// only with a key bound to that algorithm: the shared secret for HS256, a
// key of the set of the right type (and alg, if the JWK names one) for the
// others. A public key is never used as an HMAC secret, and keys in the
// token's own header (jwk, jku, x5u, x5c) are never used.
func (a *authenticator) checkSignature(ctx context.Context, h jwsHeader, signed string, sig []byte) error {
	switch h.Alg {
	case algHS256:
		if a.secret == nil {
			return invalidToken("HS256 token, but AUTH_HS256_SECRET is not set")
		}
		mac := hmac.New(sha256.New, a.secret)
		io.WriteString(mac, signed)
		if !hmac.Equal(mac.Sum(nil), sig) { // constant time
			return invalidToken("HS256 signature does not verify")
		}
		return nil
	case algEdDSA, algEd25519, algRS256, algES256:
		if a.keys == nil {
			return invalidToken(h.Alg + " token, but AUTH_JWKS_URL is not set")
		}
		return a.keys.verify(ctx, h.Kid, h.Alg, []byte(signed), sig)
	default:
		// "none", HS384, PS256…: nothing but the above is accepted.
		return invalidToken(fmt.Sprintf("algorithm %.20q not accepted", h.Alg))
	}
}

// checkClaims checks the time window (with leeway), the issuer and the
// audience, and that there is a subject. A token without exp is refused: it
// would be valid forever.
func (a *authenticator) checkClaims(c jwtClaims) error {
	now := float64(a.now().UnixMicro()) / 1e6
	leeway := authLeeway.Seconds()
	switch {
	case c.Exp == nil:
		return invalidToken("no exp claim")
	case now > *c.Exp+leeway:
		return errTokenExpired
	case c.Nbf != nil && now < *c.Nbf-leeway:
		return errTokenNotYet
	case c.Sub == "":
		return invalidToken("no sub claim")
	case a.issuer != "" && c.Iss != a.issuer:
		return invalidToken("iss is not AUTH_ISSUER")
	case a.audience != "" && !hasAudience(c.Aud, a.audience):
		return invalidToken("aud does not include AUTH_AUDIENCE")
	}
	return nil
}

// hasAudience reports whether aud, a string or an array of strings (RFC
// 7519 §4.1.3), is or contains want.
func hasAudience(aud json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return one == want
	}
	var many []string
	return json.Unmarshal(aud, &many) == nil && slices.Contains(many, want)
}

// ---------------------------------------------------------------------------
// The key set

// jwk is one usable public key of the set.
type jwk struct {
	kid string
	ed  ed25519.PublicKey // kty OKP, crv Ed25519
	rsa *rsa.PublicKey    // kty RSA
	ec  *ecdsa.PublicKey  // kty EC, crv P-256
}

// accepts reports whether the key may check a token signed with alg: the
// key type decides, and parseJWK has already refused a key whose own alg
// names another algorithm.
func (k *jwk) accepts(alg string) bool {
	switch alg {
	case algEdDSA, algEd25519:
		return k.ed != nil
	case algRS256:
		return k.rsa != nil
	case algES256:
		return k.ec != nil
	}
	return false
}

// verifySig checks sig over signed; k must accept alg.
func (k *jwk) verifySig(alg string, signed, sig []byte) bool {
	switch alg {
	case algEdDSA, algEd25519:
		return ed25519.Verify(k.ed, signed, sig)
	case algRS256:
		sum := sha256.Sum256(signed)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, sum[:], sig) == nil
	case algES256:
		// JWS encodes the signature as r||s, 32 bytes each (RFC 7518
		// §3.4), not as ASN.1.
		if len(sig) != 64 {
			return false
		}
		sum := sha256.Sum256(signed)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.ec, sum[:], r, s)
	}
	return false
}

// keySet is the keys of one successful fetch.
type keySet struct {
	keys    []*jwk
	fetched time.Time
}

// verify tries the keys that may have signed a token with kid and alg (all
// keys of the right type when the token names no kid). known is false when
// there is none, valid when one of them verifies sig.
func (s *keySet) verify(kid, alg string, signed, sig []byte) (known, valid bool) {
	if s == nil {
		return false, false
	}
	for _, k := range s.keys {
		if (kid == "" || k.kid == kid) && k.accepts(alg) {
			known = true
			if k.verifySig(alg, signed, sig) {
				return true, true
			}
		}
	}
	return known, false
}

// jwksCache holds the key set fetched from one URL. Reading it costs an
// atomic load; fetches happen one at a time, at most once a minute (see
// jwksRefetchInterval), and a failed fetch keeps the keys already held.
type jwksCache struct {
	url     string
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration // of one fetch

	set atomic.Pointer[keySet] // nil until a fetch succeeds

	mu       sync.Mutex    // guards the fields below
	tried    time.Time     // when the last fetch started
	failed   bool          // whether the last fetch failed
	fetching chan struct{} // non-nil while a fetch runs; closed when it ends
}

// newJWKSCache returns an empty cache for the key set at rawURL, fetched
// with client, whose redirects it restricts.
func newJWKSCache(rawURL string, client *http.Client, log *slog.Logger) *jwksCache {
	client.CheckRedirect = refuseDowngrade
	return &jwksCache{url: rawURL, client: client, log: log, now: time.Now, timeout: jwksFetchTimeout}
}

// refuseDowngrade follows redirects (a host moving to www, say) but never
// from https to http, where the keys could be swapped in transit.
func refuseDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("redirect from https to " + req.URL.Scheme + " refused")
	}
	return nil
}

// verify checks a token's signature with the set's keys. A kid the set does
// not have (after a key rotation, say) fetches the set again, within the
// rate limit; a set older than jwksMaxAge is refreshed in the background
// while its keys keep being used.
func (c *jwksCache) verify(ctx context.Context, kid, alg string, signed, sig []byte) error {
	set := c.set.Load()
	known, valid := set.verify(kid, alg, signed, sig)
	if !known {
		if err := c.refetch(ctx); err != nil {
			return err
		}
		set = c.set.Load()
		known, valid = set.verify(kid, alg, signed, sig)
	} else if c.now().Sub(set.fetched) > jwksMaxAge {
		c.fetchInBackground()
	}
	switch {
	case valid:
		return nil
	case known:
		return invalidToken(alg + " signature does not verify")
	case c.lastFailed():
		return fmt.Errorf("%w: no key for the token, and the last fetch failed", errKeysUnavailable)
	default:
		return invalidToken("no key in the set for the token's kid and alg")
	}
}

// refetch waits for the fetch in flight, or starts one if the rate limit
// allows, or returns at once.
func (c *jwksCache) refetch(ctx context.Context) error {
	c.mu.Lock()
	done := c.fetching
	if done == nil && c.mayFetchLocked() {
		done = c.startFetchLocked()
	}
	c.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the key set: %w", errKeysUnavailable, ctx.Err())
	}
}

// fetchInBackground starts a fetch, unless one runs or the rate limit
// forbids it.
func (c *jwksCache) fetchInBackground() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fetching == nil && c.mayFetchLocked() {
		c.startFetchLocked()
	}
}

// mayFetchLocked reports whether the rate limit allows a fetch now; c.mu
// must be held.
func (c *jwksCache) mayFetchLocked() bool {
	interval := jwksRefetchInterval
	if c.set.Load() == nil {
		interval = jwksEmptyRetry
	}
	return c.tried.IsZero() || c.now().Sub(c.tried) >= interval
}

// startFetchLocked runs one fetch in its own goroutine, so that a request
// which gives up waiting does not cancel it for the others, and returns the
// channel closed when it ends.
func (c *jwksCache) startFetchLocked() chan struct{} {
	done := make(chan struct{})
	c.fetching = done
	c.tried = c.now()
	go func() {
		err := c.fetch()
		c.mu.Lock()
		c.failed = err != nil
		c.fetching = nil
		c.mu.Unlock()
		close(done)
	}()
	return done
}

// lastFailed reports whether the last fetch failed, so a token without a
// key held may still be good.
func (c *jwksCache) lastFailed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// idle returns once no fetch is running; tests use it to wait for a
// background fetch.
func (c *jwksCache) idle() {
	c.mu.Lock()
	done := c.fetching
	c.mu.Unlock()
	if done != nil {
		<-done
	}
}

// fetch gets the key set and, if it holds a usable key, replaces the one
// held; otherwise the keys held are kept.
func (c *jwksCache) fetch() error {
	keys, err := c.download()
	if err != nil {
		held := 0
		if set := c.set.Load(); set != nil {
			held = len(set.keys)
		}
		c.log.Warn("cannot fetch the JWK set; keeping the keys already held", "url", redactedURL(c.url),
			"keys_held", held, "err", err)
		return err
	}
	c.set.Store(&keySet{keys: keys, fetched: c.now()})
	c.log.Info("JWK set loaded", "url", redactedURL(c.url), "keys", len(keys))
	return nil
}

// download fetches and parses the key set, within the timeout and size
// limit.
func (c *jwksCache) download() ([]*jwk, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	return c.parse(body)
}

// parse reads a JWK set, keeping the keys this service can use and logging
// why each other one is skipped.
func (c *jwksCache) parse(body []byte) ([]*jwk, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("JWKS is not a JWK set: %w", err)
	}
	var keys []*jwk
	for i, raw := range doc.Keys {
		k, err := parseJWK(raw)
		if err != nil {
			c.log.Info("JWK skipped", "index", i, "err", err)
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS has no usable key (Ed25519, RSA or P-256 for signing) among %d", len(doc.Keys))
	}
	return keys, nil
}

// rawJWK is a JWK as RFC 7517 and 7518 spell it.
type rawJWK struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv"`
	Alg    string   `json:"alg"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

// parseJWK turns one JWK into a key, or says why it cannot be used: not for
// signatures, a type or curve not supported, bound to another algorithm,
// malformed, or too weak. Symmetric ("oct") keys are refused: a key
// published at a URL is no secret.
func parseJWK(raw json.RawMessage) (*jwk, error) {
	var j rawJWK
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("not a JWK: %w", err)
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("kid %q: use is %q, not sig", j.Kid, j.Use)
	}
	if j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") {
		return nil, fmt.Errorf("kid %q: key_ops lacks verify", j.Kid)
	}
	k := &jwk{kid: j.Kid}
	var err error
	switch j.Kty {
	case "OKP":
		err = k.parseOKP(j)
	case "RSA":
		err = k.parseRSA(j)
	case "EC":
		err = k.parseEC(j)
	default:
		err = fmt.Errorf("key type %q not supported", j.Kty)
	}
	if err != nil {
		return nil, fmt.Errorf("kid %q: %w", j.Kid, err)
	}
	return k, nil
}

// parseOKP reads an Ed25519 key (RFC 8037).
func (k *jwk) parseOKP(j rawJWK) error {
	if j.Crv != "Ed25519" {
		return fmt.Errorf("OKP curve %q not supported", j.Crv)
	}
	if j.Alg != "" && j.Alg != algEdDSA && j.Alg != algEd25519 {
		return fmt.Errorf("Ed25519 key bound to alg %q", j.Alg)
	}
	x, err := b64.DecodeString(j.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return errors.New("malformed Ed25519 x")
	}
	k.ed = ed25519.PublicKey(x)
	return nil
}

// parseRSA reads an RSA public key of a size worth trusting.
func (k *jwk) parseRSA(j rawJWK) error {
	if j.Alg != "" && j.Alg != algRS256 {
		return fmt.Errorf("RSA key bound to alg %q", j.Alg)
	}
	n, errN := b64.DecodeString(j.N)
	e, errE := b64.DecodeString(j.E)
	if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
		return errors.New("malformed RSA n or e")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return fmt.Errorf("RSA key of %d bits; %d to %d accepted", bits, minRSABits, maxRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return errors.New("RSA exponent must be odd and at least 3")
	}
	k.rsa = pub
	return nil
}

// parseEC reads a P-256 public key.
func (k *jwk) parseEC(j rawJWK) error {
	if j.Crv != "P-256" {
		return fmt.Errorf("EC curve %q not supported", j.Crv)
	}
	if j.Alg != "" && j.Alg != algES256 {
		return fmt.Errorf("P-256 key bound to alg %q", j.Alg)
	}
	x, errX := b64.DecodeString(j.X)
	y, errY := b64.DecodeString(j.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return errors.New("malformed P-256 x or y")
	}
	// Refuses a point that is not on the curve (invalid-curve attacks).
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
	if err != nil {
		return fmt.Errorf("P-256 point: %w", err)
	}
	k.ec = pub
	return nil
}
