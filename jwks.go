package main

// The JWK set behind AUTH_JWKS_URL: fetched in the background, cached,
// refetched on an unknown kid within a rate limit, and parsed into the
// public keys (Ed25519, RSA, P-256) that auth.go checks signatures with.

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Limits and timings of the key set.
const (
	jwksFetchTimeout = 5 * time.Second
	maxJWKSBytes     = 1 << 20
	// jwksRefetchInterval is the least time between two fetches of the key
	// set: short, because an issuer such as Better Auth publishes a new key
	// at the moment it first signs with it, so a token may name a kid the
	// set had not a moment ago; long enough that tokens with made-up kids
	// cannot turn this service into a flood against the key server (one
	// fetch at a time, at most one per interval).
	jwksRefetchInterval = 5 * time.Second
	// jwksMaxAge: an older key set is refreshed in the background, so a key
	// removed from the set (revoked) stops being accepted.
	jwksMaxAge = time.Hour

	minRSABits = 2048
	maxRSABits = 8192 // bounds the cost of one verification
)

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
// atomic load; fetches happen one at a time, at most once per interval (see
// jwksRefetchInterval), and a failed fetch keeps the keys already held.
type jwksCache struct {
	url     string
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration // of one fetch

	set atomic.Pointer[keySet] // nil until a fetch succeeds

	mu       sync.Mutex      // guards the fields below
	tried    time.Time       // when the last fetch started
	failed   bool            // whether the last fetch failed
	fetching chan struct{}   // non-nil while a fetch runs; closed when it ends
	seen     map[string]bool // every kid a fetched set has named, up to maxSeenKids
}

// maxSeenKids bounds jwksCache.seen; past it, it starts again from the
// current set's kids.
const maxSeenKids = 1000

// seenKid reports whether a fetched set has named kid.
func (c *jwksCache) seenKid(kid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[kid]
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
		fetched, err := c.refetch(ctx)
		if err != nil {
			return err
		}
		set = c.set.Load()
		known, valid = set.verify(kid, alg, signed, sig)
		if !known && !fetched && kid != "" && !c.seenKid(kid) {
			// The set was fetched less than jwksRefetchInterval ago, before
			// this kid may have been published. (A kid some fetched set has
			// named, usable or not, withdrawn or not, is no new key: that
			// is a 401.) A 401 would send the user
			// to sign in again for a token with the same kid; a 503 with
			// Retry-After brings the retry after the next fetch is allowed.
			return fmt.Errorf("%w: kid not in the key set, fetched less than %v ago", errKeysUnavailable, jwksRefetchInterval)
		}
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
// allows; fetched says whether the set was fetched meanwhile, false when
// the rate limit allowed no fetch.
func (c *jwksCache) refetch(ctx context.Context) (fetched bool, err error) {
	c.mu.Lock()
	done := c.fetching
	if done == nil && c.mayFetchLocked() {
		done = c.startFetchLocked()
	}
	c.mu.Unlock()
	if done == nil {
		return false, nil
	}
	select {
	case <-done:
		return true, nil
	case <-ctx.Done():
		return false, fmt.Errorf("%w: waiting for the key set: %w", errKeysUnavailable, ctx.Err())
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
	return c.tried.IsZero() || c.now().Sub(c.tried) >= jwksRefetchInterval
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

// fetch gets the key set and, if it holds a usable key, replaces the one
// held; otherwise the keys held are kept.
func (c *jwksCache) fetch() error {
	keys, kids, err := c.download()
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
	c.mu.Lock()
	if c.seen == nil || len(c.seen)+len(kids) > maxSeenKids {
		c.seen = make(map[string]bool, len(kids))
	}
	for _, kid := range kids {
		c.seen[kid] = true
	}
	c.mu.Unlock()
	c.log.Info("JWK set loaded", "url", redactedURL(c.url), "keys", len(keys))
	return nil
}

// download fetches and parses the key set, within the timeout and size
// limit.
func (c *jwksCache) download() ([]*jwk, []string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("get JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("get JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, nil, fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	return c.parse(body)
}

// parse reads a JWK set, keeping the keys this service can use and logging
// why each other one is skipped.
func (c *jwksCache) parse(body []byte) (keys []*jwk, kids []string, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("JWKS is not a JWK set: %w", err)
	}
	for i, raw := range doc.Keys {
		var named struct{ Kid string }
		if json.Unmarshal(raw, &named) == nil && named.Kid != "" {
			kids = append(kids, named.Kid)
		}
		k, err := parseJWK(raw)
		if err != nil {
			c.log.Info("JWK skipped", "index", i, "err", err)
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("JWKS has no usable key (Ed25519, RSA or P-256 for signing) among %d", len(doc.Keys))
	}
	return keys, kids, nil
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
	// crypto/ecdh refuses a point that is not on the curve (invalid-curve
	// attacks). ecdsa.ParseUncompressedPublicKey would do both steps, but
	// needs Go 1.25 (see go.mod).
	if _, err := ecdh.P256().NewPublicKey(slices.Concat([]byte{4}, x, y)); err != nil {
		return fmt.Errorf("P-256 point: %w", err)
	}
	k.ec = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	return nil
}
