// Command tasksvc is a small task (to-do) REST API: six endpoints under
// /api/{user_id}/tasks, a drop-in replacement for the FastAPI service in the
// seed plan. Tasks live in PostgreSQL when DATABASE_URL is set, in memory
// otherwise.
//
// Run it with `go run .`; configuration comes from the environment and an
// optional .env file (see README.md).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lib/pq"
)

func main() {
	if exit, code := parseFlags(os.Args[1:], os.Stdout, os.Stderr); exit {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.LookupEnv, ".env", os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "tasksvc: %v\n", err)
		os.Exit(1)
	}
}

// Server limits. WriteTimeout must exceed the store timeout (at most
// maxStoreTimeout) so a slow database still gets its 503 written.
// MaxHeaderBytes leaves room for a browser's cookies and a bearer token;
// larger headers get 431.
const (
	maxHeaderBytes    = 32 << 10
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
	readyzTimeout     = 2 * time.Second
)

// lookupFunc reads one environment variable, like os.LookupEnv.
type lookupFunc func(key string) (string, bool)

// run starts the service and blocks until ctx is cancelled (SIGINT or
// SIGTERM), then shuts down gracefully. It returns an error only when the
// service cannot start or stops abnormally.
func run(ctx context.Context, lookupEnv lookupFunc, dotenvPath string, stderr io.Writer) error {
	lookupEnv, err := withDotenv(lookupEnv, dotenvPath)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(lookupEnv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	store, starting, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	auth := startAuth(cfg.Auth, log)
	srv := newHTTPServer(newServerWithAuth(log, store, cfg.CORS, auth), log, readHeaderTimeout)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	var fatal error
	for fatal == nil && ctx.Err() == nil {
		select {
		case err := <-serveErr:
			return fmt.Errorf("serve: %w", err)
		case err := <-starting:
			starting = nil // a nil channel never fires again
			if err != nil && ctx.Err() == nil {
				fatal = fmt.Errorf("PostgreSQL at %s/%s: %w", cfg.Postgres.Host, cfg.Postgres.Database, err)
			}
		case <-ctx.Done():
		}
	}
	log.Info("shutting down: finishing requests in flight")
	// A fresh context: ctx is already cancelled, and Shutdown needs time to
	// let the requests in flight finish.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("shutdown cut requests short", "err", err)
	}
	log.Info("stopped")
	return fatal
}

// newHTTPServer returns the http.Server that run serves h with, every limit
// set: a client that sends slowly, or sends too much, cannot hold a
// connection or memory for long. The header timeout is a parameter so tests
// can watch it cut a slow client off without waiting the full
// readHeaderTimeout; everything else is fixed here.
func newHTTPServer(h http.Handler, log *slog.Logger, headerTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// openStore returns the PostgreSQL store when DATABASE_URL is set and the
// in-memory store otherwise, saying loudly that memory does not persist.
//
// A database that cannot be reached yet is not an error: the service starts,
// answers 503 while the returned channel's retries go on in the background,
// and that channel reports nil once the store is ready or an error retrying
// cannot fix. Such an error found at once is returned directly.
func openStore(ctx context.Context, cfg config, log *slog.Logger) (taskStore, <-chan error, error) {
	if cfg.Postgres == nil {
		log.Warn("DATABASE_URL is not set: tasks are kept IN MEMORY ONLY and are lost when the process stops")
		return newMemStore(), nil, nil
	}
	pg := cfg.Postgres
	if cfg.DroppedChannelBinding {
		log.Warn("channel_binding in DATABASE_URL is not supported by the driver and was ignored; " +
			"use sslmode=verify-full&sslrootcert=system to authenticate the server")
	}
	// Named fields only: pg also holds the password.
	opts := cfg.Store
	opts.Log = log
	log.Info("connecting to PostgreSQL", "host", pg.Host, "database", pg.Database, "user", pg.User,
		"sslmode", pg.SSLMode, "prepared_statements", opts.Prepare)
	store, err := newPostgres(*pg, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("PostgreSQL at %s/%s: %w", pg.Host, pg.Database, err)
	}
	err = store.applySchema(ctx)
	switch {
	case err == nil:
		return store, nil, nil
	case errors.Is(err, errStoreUnavailable):
		log.Warn("PostgreSQL is not reachable yet; answering 503 and retrying", "err", err)
		starting := make(chan error, 1)
		go func() { starting <- store.retrySchema(ctx, log) }()
		return store, starting, nil
	default:
		store.Close()
		return nil, nil, fmt.Errorf("PostgreSQL at %s/%s: %w", pg.Host, pg.Database, err)
	}
}

// ---------------------------------------------------------------------------
// Configuration

// config is everything the service reads from its environment.
type config struct {
	Addr                  string     // listen address, from PORT
	Postgres              *pq.Config // nil: in-memory store
	DroppedChannelBinding bool       // DATABASE_URL asked for channel_binding
	Store                 pgOptions  // pool and deadline, from DATABASE_*
	CORS                  corsPolicy
	Auth                  authConfig // bearer tokens, from AUTH_*
}

const (
	defaultPort        = "8000"
	defaultCORSOrigins = "http://localhost:3000"
)

// loadConfig reads and checks every setting; a bad value is an error that
// names the variable.
func loadConfig(lookupEnv lookupFunc) (config, error) {
	var cfg config
	var err error
	port := getenvDefault(lookupEnv, "PORT", defaultPort)
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return config{}, fmt.Errorf("PORT must be a number from 0 to 65535, not %q", port)
	}
	cfg.Addr = ":" + port

	if raw := getenvDefault(lookupEnv, "DATABASE_URL", ""); raw != "" {
		pgCfg, dropped, err := parsePostgresURL(raw)
		if err != nil {
			return config{}, err
		}
		cfg.Postgres, cfg.DroppedChannelBinding = &pgCfg, dropped
	}
	if cfg.Store, err = loadPgOptions(lookupEnv); err != nil {
		return config{}, err
	}
	switch prepare := getenvDefault(lookupEnv, "DATABASE_PREPARE", "auto"); prepare {
	case "auto":
		cfg.Store.Prepare = cfg.Postgres != nil && pgPrepareAuto(*cfg.Postgres)
	case "on", "off":
		cfg.Store.Prepare = prepare == "on"
	default:
		return config{}, fmt.Errorf("DATABASE_PREPARE must be auto, on or off, not %q", prepare)
	}

	if cfg.CORS, err = parseCORSOrigins(getenvDefault(lookupEnv, "CORS_ORIGINS", defaultCORSOrigins)); err != nil {
		return config{}, err
	}
	if cfg.Auth, err = loadAuthConfig(lookupEnv); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// maxStoreTimeout keeps DATABASE_TIMEOUT inside the server's WriteTimeout,
// so a 503 for a slow database can still be written. Each store method
// keeps within one DATABASE_TIMEOUT in all, however many statements it
// runs.
const maxStoreTimeout = 20 * time.Second

// loadPgOptions reads the pool and deadline settings.
func loadPgOptions(lookupEnv lookupFunc) (pgOptions, error) {
	opts := defaultPgOptions()
	var err error
	if opts.Timeout, err = envDuration(lookupEnv, "DATABASE_TIMEOUT", opts.Timeout, 100*time.Millisecond, maxStoreTimeout); err != nil {
		return pgOptions{}, err
	}
	if opts.MaxConns, err = envInt(lookupEnv, "DATABASE_MAX_CONNS", opts.MaxConns, 1, 10000); err != nil {
		return pgOptions{}, err
	}
	if opts.MaxIdleConns, err = envInt(lookupEnv, "DATABASE_MAX_IDLE_CONNS", opts.MaxIdleConns, 0, 10000); err != nil {
		return pgOptions{}, err
	}
	// More idle than open connections cannot be; database/sql would lower
	// it too. Clamped rather than refused, so a .env that lowers only
	// DATABASE_MAX_CONNS still starts.
	opts.MaxIdleConns = min(opts.MaxIdleConns, opts.MaxConns)
	if opts.ConnMaxIdleTime, err = envDuration(lookupEnv, "DATABASE_MAX_IDLE_TIME", opts.ConnMaxIdleTime, time.Second, 24*time.Hour); err != nil {
		return pgOptions{}, err
	}
	return opts, nil
}

// envInt reads a whole number from lo to hi, or def when the variable is
// unset.
func envInt(lookupEnv lookupFunc, key string, def, lo, hi int) (int, error) {
	raw := getenvDefault(lookupEnv, key, "")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a whole number from %d to %d, not %q", key, lo, hi, raw)
	}
	return n, nil
}

// envDuration reads a duration such as 5s or 250ms from lo to hi, or def
// when the variable is unset.
func envDuration(lookupEnv lookupFunc, key string, def, lo, hi time.Duration) (time.Duration, error) {
	raw := getenvDefault(lookupEnv, key, "")
	if raw == "" {
		return def, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%s must be a duration from %v to %v, such as 5s, not %q", key, lo, hi, raw)
	}
	return d, nil
}

// getenvDefault returns the variable's value, or def when it is unset or
// empty.
func getenvDefault(lookupEnv lookupFunc, key, def string) string {
	if v, ok := lookupEnv(key); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

var dotenvKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// withDotenv returns a lookup that prefers the real environment and falls
// back to the KEY=VALUE lines of the file at path. A missing file is fine; a
// malformed line is an error, because silently skipping, say, a mistyped
// DATABASE_URL line would start the service on the memory store.
func withDotenv(lookupEnv lookupFunc, path string) (lookupFunc, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return lookupEnv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	vars, err := parseDotenv(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return func(key string) (string, bool) {
		if v, ok := lookupEnv(key); ok {
			return v, true
		}
		v, ok := vars[key]
		return v, ok
	}, nil
}

// parseDotenv reads lines of KEY=VALUE. Blank lines and lines starting with
// # are skipped, an "export " prefix is allowed, a value may be wrapped in
// single or double quotes, and an unquoted value ends at " #".
func parseDotenv(r io.Reader) (map[string]string, error) {
	vars := make(map[string]string)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !dotenvKey.MatchString(key) {
			return nil, fmt.Errorf("line %d: expected KEY=VALUE", n)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		} else if i := strings.Index(value, " #"); i >= 0 {
			value = strings.TrimSpace(value[:i])
		}
		vars[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return vars, nil
}

// corsPolicy says which browser origins may call the API.
type corsPolicy struct {
	anyOrigin bool
	origins   []string
}

func (p corsPolicy) allows(origin string) bool {
	return p.anyOrigin || slices.Contains(p.origins, origin)
}

// parseCORSOrigins reads CORS_ORIGINS: "*" or a comma-separated list of
// origins such as http://localhost:3000. A trailing slash is dropped, since
// browsers never send one and the entry would otherwise never match.
func parseCORSOrigins(s string) (corsPolicy, error) {
	var p corsPolicy
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		switch {
		case o == "":
			continue
		case o == "*":
			p.anyOrigin = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return corsPolicy{}, fmt.Errorf("CORS_ORIGINS: %q is not an origin like http://localhost:3000", o)
		}
		p.origins = append(p.origins, o)
	}
	return p, nil
}

// ---------------------------------------------------------------------------
// HTTP wiring

// newServer returns the whole HTTP API: the routes, wrapped in the
// middleware every response goes through. It has no authentication.
func newServer(log *slog.Logger, store taskStore, cors corsPolicy) http.Handler {
	return newServerWithAuth(log, store, cors, nil)
}

// newServerWithAuth is newServer with bearer tokens required on the /api/
// routes (none when auth is nil). Authentication sits inside CORS, so a
// preflight is answered without a token and a 401 carries the CORS headers
// a browser needs to read it.
func newServerWithAuth(log *slog.Logger, store taskStore, cors corsPolicy, auth *authenticator) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, log, store)
	return withLogging(log, withCORS(cors, withAuth(log, auth, mux, muxErrorsAsJSON(mux))))
}

// routeRegistrar is what addRoutes registers on: the server's
// *http.ServeMux, or a test's list of patterns.
type routeRegistrar interface {
	Handle(pattern string, handler http.Handler)
}

// addRoutes lists every endpoint of the service. openapi.json documents
// each of them; a test holds the two to each other.
func addRoutes(mux routeRegistrar, log *slog.Logger, store taskStore) {
	mux.Handle("GET /api/{user_id}/tasks", handleListTasks(log, store))
	mux.Handle("POST /api/{user_id}/tasks", handleCreateTask(log, store))
	mux.Handle("GET /api/{user_id}/tasks/{task_id}", handleGetTask(log, store))
	mux.Handle("PUT /api/{user_id}/tasks/{task_id}", handleUpdateTask(log, store))
	mux.Handle("DELETE /api/{user_id}/tasks/{task_id}", handleDeleteTask(log, store))
	mux.Handle("PATCH /api/{user_id}/tasks/{task_id}/complete", handleToggleTask(log, store))
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(log, store))
	mux.Handle("GET /openapi.json", handleOpenAPI())
	mux.Handle("GET /docs", handleDocs())
}

// handleHealthz answers 200 while the process runs.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers 200 when the store answers, 503 when it does not.
func handleReadyz(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyzTimeout)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			writeError(w, r, log, fmt.Errorf("readyz: %w", err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// muxErrorsAsJSON makes the mux's own answers JSON. The standard mux writes
// 404 and 405 as text and redirects paths containing "//", "." or ".."
// segments to a cleaned path. The cleaned path may name another user's
// resource (/api/a/../b/tasks), so instead of redirecting we answer 404.
func muxErrorsAsJSON(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The escaped path, as the mux cleans it: %2F inside a segment is
		// part of a value ("a/" as a user id), not a separator.
		if !isCleanPath(r.URL.EscapedPath()) {
			writeJSON(w, http.StatusNotFound, detail{"Not Found"})
			return
		}
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // sets the path values h would not see
			return
		}
		rec := &discardWriter{header: make(http.Header)}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeJSON(w, http.StatusMethodNotAllowed, detail{"Method Not Allowed"})
			return
		}
		writeJSON(w, http.StatusNotFound, detail{"Not Found"})
	})
}

// isCleanPath reports whether the mux would serve p as it is rather than
// redirect it: no empty, "." or ".." segments.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for _, bad := range [...]string{"//", "/./", "/../"} {
		if strings.Contains(p, bad) {
			return false
		}
	}
	return !strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
}

// discardWriter keeps a response's status and headers and drops its body.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.header }

func (d *discardWriter) WriteHeader(status int) {
	if d.status == 0 {
		d.status = status
	}
}

func (d *discardWriter) Write(b []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(b), nil
}

// CORS answers, as FastAPI's CORSMiddleware configured for this service
// would give them.
var corsMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}

const (
	corsExposeHeaders = "ETag, Idempotent-Replayed, Link, Location, Retry-After, WWW-Authenticate, X-Request-ID"
	corsMaxAge        = "600"
)

// withCORS adds CORS headers for allowed origins and answers preflight
// requests itself, without reaching the routes or the store.
func withCORS(p corsPolicy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if !p.anyOrigin {
			h.Add("Vary", "Origin") // the answer depends on the origin
		}
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && origin != "" &&
			r.Header.Get("Access-Control-Request-Method") != ""
		if origin == "" || !p.allows(origin) {
			if preflight {
				writeJSON(w, http.StatusBadRequest, detail{"Disallowed CORS origin"})
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if p.anyOrigin {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if !preflight {
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			next.ServeHTTP(w, r)
			return
		}
		method := r.Header.Get("Access-Control-Request-Method")
		if !slices.Contains(corsMethods, method) {
			writeJSON(w, http.StatusBadRequest, detail{"Disallowed CORS method"})
			return
		}
		h.Set("Access-Control-Allow-Methods", strings.Join(corsMethods, ", "))
		if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
			h.Set("Access-Control-Allow-Headers", reqHeaders)
		}
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}

// withLogging gives every request an X-Request-ID, writes one access-log
// line per request, and turns a panic in a handler into a logged stack and
// a JSON 500. The line names the route pattern, not the path, so user ids
// stay out of the log; task contents never enter it.
func withLogging(log *slog.Logger, next http.Handler) http.Handler {
	ids := newRequestIDs()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(requestIDHeader)
		if !isSaneRequestID(id) {
			id = ids.next()
		}
		// writeError reads it back from here to tag its log lines.
		w.Header().Set(requestIDHeader, id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				log.Error("panic", "method", r.Method, "route", r.Pattern, "request_id", id,
					"panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeJSON(sw, http.StatusInternalServerError, detail{"Internal Server Error"})
					p = nil
				} else {
					// Part of the answer is out and its status cannot
					// change: abort it, so the client sees a broken
					// response rather than a short one that looks whole.
					p = http.ErrAbortHandler
				}
			}
			// LogAttrs: typed attributes are not boxed into interfaces, so
			// the line costs no allocations of its own.
			log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("method", r.Method),
				slog.String("route", r.Pattern), slog.Int("status", sw.status),
				slog.Duration("duration", time.Since(start)), slog.String("request_id", id),
				slog.Bool("aborted", p != nil))
			if p != nil {
				panic(p) // net/http's way to abort a response
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

const requestIDHeader = "X-Request-ID"

// isSaneRequestID accepts a caller's request id that is safe to echo and
// log: 1 to 128 characters that cannot break a header or a log line.
func isSaneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-_.:+/=@", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// requestIDs makes request ids: a random prefix per process and a counter,
// unique across restarts without a random read per request.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	return &requestIDs{prefix: rand.Text()[:10] + "-"}
}

func (g *requestIDs) next() string {
	var b [32]byte
	out := append(b[:0], g.prefix...)
	return string(strconv.AppendUint(out, g.n.Add(1), 10))
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
