package main

// Bearer-token authentication for the /api/ routes: JSON Web Tokens checked
// with the standard library's crypto, against the keys of a JWK set (see
// jwks.go: EdDSA, RS256, ES256) or an HS256 shared secret. Off, with a
// start-up warning, when neither AUTH_JWKS_URL nor AUTH_HS256_SECRET is set.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
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

func (secretBytes) String() string { return "[redacted]" }

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

// requireUser lets a request through to next only with a valid bearer
// token whose subject is the path's user_id: 401 without one, 403 for
// another user's path, 503 when the keys to check it cannot be had, all
// before next (and so any store call) runs. A nil a lets everything
// through. It reads the user_id as every handler does, with PathValue, so
// it only wraps routes whose pattern has {user_id}.
func requireUser(log *slog.Logger, a *authenticator, next http.Handler) http.Handler {
	return checkUser(log, a, next, false)
}

// requireUserUntilExpiry is requireUser for a response that lasts (an
// event stream): next finds when the token expires with tokenExpiry.
func requireUserUntilExpiry(log *slog.Logger, a *authenticator, next http.Handler) http.Handler {
	return checkUser(log, a, next, true)
}

func checkUser(log *slog.Logger, a *authenticator, next http.Handler, passExpiry bool) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exp, err := a.allow(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if passExpiry {
			r = r.WithContext(context.WithValue(r.Context(), tokenExpiryKey{}, exp))
		}
		next.ServeHTTP(w, r)
	})
}

// tokenExpiryKey holds, in a request's context, when its token expires.
type tokenExpiryKey struct{}

// tokenExpiry returns when the request's token stops being accepted (its
// exp, and the leeway), if requireUserUntilExpiry checked one.
func tokenExpiry(ctx context.Context) (time.Time, bool) {
	exp, ok := ctx.Value(tokenExpiryKey{}).(time.Time)
	return exp, ok
}

// allow checks r's bearer token and that its subject is the path's
// user_id, and returns when the token stops being accepted: an error is a
// *tokenError, errWrongSubject, or one wrapping errKeysUnavailable.
func (a *authenticator) allow(r *http.Request) (time.Time, error) {
	token, err := bearerToken(r)
	if err != nil {
		return time.Time{}, err
	}
	c, err := a.verify(r.Context(), token)
	if err != nil {
		return time.Time{}, err
	}
	if c.Sub != r.PathValue("user_id") {
		return time.Time{}, errWrongSubject
	}
	// checkClaims refused a token without exp. The time left is measured
	// on the authenticator's clock, the expiry returned on the real one.
	until := time.UnixMilli(int64((*c.Exp + authLeeway.Seconds()) * 1000))
	return time.Now().Add(until.Sub(a.now())), nil
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

// verify checks a compact JWS token and returns its claims. A refused
// token is a *tokenError; an error wrapping errKeysUnavailable means it
// could not be checked.
func (a *authenticator) verify(ctx context.Context, token string) (jwtClaims, error) {
	if len(token) > maxTokenBytes {
		return jwtClaims{}, invalidToken("token too long")
	}
	h64, rest, ok := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.IndexByte(s64, '.') >= 0 {
		return jwtClaims{}, invalidToken("not three dot-separated parts")
	}
	// One buffer for the three decoded parts: one allocation, not three.
	buf := make([]byte, b64.DecodedLen(len(h64))+b64.DecodedLen(len(p64))+b64.DecodedLen(len(s64)))
	header, err := decodePart(buf, h64)
	if err != nil {
		return jwtClaims{}, invalidToken("header is not base64url")
	}
	payload, err := decodePart(buf[len(header):], p64)
	if err != nil {
		return jwtClaims{}, invalidToken("payload is not base64url")
	}
	sig, err := decodePart(buf[len(header)+len(payload):], s64)
	if err != nil {
		return jwtClaims{}, invalidToken("signature is not base64url")
	}
	var h jwsHeader
	if err := json.Unmarshal(header, &h); err != nil {
		return jwtClaims{}, invalidToken("header is not a JSON object of the expected types")
	}
	if h.Crit != nil {
		// RFC 7515 §4.1.11: an extension marked critical that is not
		// understood makes the token invalid, and none is understood here.
		return jwtClaims{}, invalidToken("crit header present")
	}
	signed := token[:len(h64)+1+len(p64)]
	if err := a.checkSignature(ctx, h, signed, sig); err != nil {
		return jwtClaims{}, err
	}
	// Claims are read only once the signature holds.
	var c jwtClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return jwtClaims{}, invalidToken("claims are not a JSON object of the expected types")
	}
	if err := a.checkClaims(c); err != nil {
		return jwtClaims{}, err
	}
	return c, nil
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
