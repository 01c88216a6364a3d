package main

// Configuration: every environment variable the service reads, with its
// default and limits (envVars, which -h prints), read into a config by
// loadConfig; a .env file fills in what the environment leaves unset.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// envVar is one environment variable the service reads.
type envVar struct {
	name, def, help string
}

// envVars lists every variable loadConfig reads, for -h and .env.example; a
// test checks the list against what loadConfig actually asks for.
var envVars = []envVar{
	{"PORT", defaultPort, "TCP port to listen on, on all interfaces; 0 picks a free one"},
	{"DATABASE_URL", "unset: tasks are kept in memory only", "PostgreSQL URL, postgres:// or postgresql:// (Neon's works as is)"},
	{"DATABASE_LISTEN_URL", "DATABASE_URL (a Neon -pooler host made direct)", "PostgreSQL URL for the one LISTEN connection that wakes event streams; not through a transaction-mode pooler"},
	{"CORS_ORIGINS", defaultCORSOrigins, "browser origins allowed to call the API, comma-separated, or *"},
	{"SHUTDOWN_DRAIN", "0s", "on SIGINT or SIGTERM, how long to wait for connections to end before stopping (0s to 5m; 3s behind a load balancer)"},
	{"MAX_TASKS_PER_USER", strconv.Itoa(defaultMaxTasks), "most tasks one user may have; a create past it is a 409 (0: no limit)"},
	{"DATABASE_TIMEOUT", defaultStoreTimeout.String(), "how long a request waits for PostgreSQL before a 503 (100ms to 20s)"},
	{"DATABASE_MAX_CONNS", strconv.Itoa(defaultPgMaxConns), "most connections open to PostgreSQL at once"},
	{"DATABASE_MAX_IDLE_CONNS", strconv.Itoa(defaultPgMaxIdleConns), "connections kept open between requests (no more than DATABASE_MAX_CONNS)"},
	{"DATABASE_MAX_IDLE_TIME", defaultPgConnIdleTime.String(), "an idle connection is closed after this long"},
	{"DATABASE_PREPARE", "auto", "named prepared statements: on, off, or auto (off for a -pooler host or port 6432)"},
	{"AUTH_JWKS_URL", "unset", "JWK set URL (EdDSA, RS256, ES256 keys); set, /api/ needs a bearer token"},
	{"AUTH_HS256_SECRET", "unset", "shared secret (32 bytes or more) for HS256 bearer tokens"},
	{"AUTH_ISSUER", "unset: not checked", "the iss tokens must carry"},
	{"AUTH_AUDIENCE", "unset: not checked", "an aud tokens must carry"},
}

// lookupFunc reads one environment variable, like os.LookupEnv.
type lookupFunc func(key string) (string, bool)

// config is everything the service reads from its environment.
type config struct {
	Addr                  string        // listen address, from PORT
	Postgres              *pq.Config    // nil: in-memory store
	DroppedChannelBinding bool          // DATABASE_URL asked for channel_binding
	Store                 pgOptions     // pool, deadline and task limit, from DATABASE_* and MAX_TASKS_PER_USER
	ShutdownDrain         time.Duration // how long to drain on SIGTERM, from SHUTDOWN_DRAIN
	CORS                  corsPolicy
	Auth                  authConfig // bearer tokens, from AUTH_*
}

const (
	defaultPort        = "8000"
	defaultCORSOrigins = "http://localhost:3000"
	// defaultMaxTasks bounds what one user can make the service store: with
	// maxKeysPerUser, a user's worst case is a stated number of rows.
	defaultMaxTasks = 10000
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
	if cfg.Store.ListenURL, err = loadListenURL(lookupEnv); err != nil {
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

	// Both stores read the limit from here, the memory store too.
	if cfg.Store.MaxTasks, err = envInt(lookupEnv, "MAX_TASKS_PER_USER", defaultMaxTasks, 0, 1<<30); err != nil {
		return config{}, err
	}
	if cfg.ShutdownDrain, err = envDuration(lookupEnv, "SHUTDOWN_DRAIN", 0, 0, maxShutdownDrain); err != nil {
		return config{}, err
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

// maxShutdownDrain bounds SHUTDOWN_DRAIN: a supervisor's stop timeout
// (systemd's TimeoutStopSec) must cover it and the shutdown after it.
const maxShutdownDrain = 5 * time.Minute

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

// parseDotenv reads lines of KEY=VALUE the way python-dotenv reads them, so
// one .env serves this service and the FastAPI one alike. Blank lines and
// lines starting with # are skipped, an "export " prefix is allowed, and a
// value is either quoted (see dotenvValue) or bare, a bare one ending at a
// " #" comment.
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
		value, err := dotenvValue(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", n, key, err)
		}
		vars[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return vars, nil
}

// dotenvEscapes are the escapes python-dotenv decodes in a double-quoted
// value; in a single-quoted one only \\ and \' are escapes.
var dotenvEscapes = map[byte]byte{'\\': '\\', '\'': '\'', '"': '"', 'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}

// dotenvValue reads one value. A quoted value ends at its closing quote,
// after which only a comment may follow; a bare one ends at " #".
func dotenvValue(raw string) (string, error) {
	if raw == "" || raw[0] != '"' && raw[0] != '\'' {
		if i := strings.Index(raw, " #"); i >= 0 {
			raw = raw[:i]
		}
		return strings.TrimSpace(raw), nil
	}
	quote := raw[0]
	var b strings.Builder
	for i := 1; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			if e, ok := dotenvEscapes[raw[i+1]]; ok && (quote == '"' || raw[i+1] == '\\' || raw[i+1] == '\'') {
				b.WriteByte(e)
				i++
				continue
			}
		}
		if c != quote {
			b.WriteByte(c)
			continue
		}
		if rest := strings.TrimSpace(raw[i+1:]); rest != "" && rest[0] != '#' {
			return "", errors.New("text after the closing quote (not shown: it may be a secret)")
		}
		return b.String(), nil
	}
	return "", errors.New("no closing quote")
}

// loadListenURL picks the LISTEN connection's URL (see listenURL); one set
// in DATABASE_LISTEN_URL must be as usable as DATABASE_URL, whether or not
// DATABASE_URL is set.
func loadListenURL(lookupEnv lookupFunc) (string, error) {
	override := getenvDefault(lookupEnv, "DATABASE_LISTEN_URL", "")
	if override != "" {
		if _, _, err := parsePostgresURLOf("DATABASE_LISTEN_URL", override); err != nil {
			return "", err
		}
	}
	databaseURL := getenvDefault(lookupEnv, "DATABASE_URL", "")
	if databaseURL == "" {
		return "", nil // the memory store: nothing to listen to
	}
	return listenURL(databaseURL, override), nil
}
