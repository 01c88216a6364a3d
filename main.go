// Command tasksvc is a small task (to-do) REST API: six endpoints, a
// change feed and a live event stream under /api/{user_id}/tasks, a
// drop-in replacement for a FastAPI + SQLModel task service, with the same
// paths, fields, status codes and error shapes.
// Tasks live in PostgreSQL when DATABASE_URL is set, in memory otherwise.
//
// Run it with `go run .`; configuration comes from the environment and an
// optional .env file (see README.md, and ARCHITECTURE.md for a map of the
// code).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if exit, code := parseFlags(os.Args[1:], os.Stdout, os.Stderr); exit {
		os.Exit(code)
	}
	// The first SIGINT or SIGTERM starts the shutdown, a second cuts its
	// drain short; buffered so that neither is missed.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	activated, err := socketActivation(os.LookupEnv, os.Getpid())
	for _, name := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(name) // for no child to take them for its own
	}
	if err == nil {
		err = run(signals, activated, os.LookupEnv, ".env", os.Stderr)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tasksvc: %v\n", err)
		os.Exit(1)
	}
}

// Server limits. WriteTimeout must exceed the store timeout (at most
// maxStoreTimeout) so a slow database still gets its 503 written.
// MaxHeaderBytes leaves room for a browser's cookies and a bearer token;
// Go's server lets 4 KiB more through, so headers past 36 KiB get 431.
const (
	maxHeaderBytes    = 32 << 10
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
)

// run starts the service (on the inherited socket when activated) and
// serves until the first signal, then drains and shuts down gracefully. It
// returns an error only when the service cannot start or stops abnormally.
func run(signals <-chan os.Signal, activated bool, lookupEnv lookupFunc, dotenvPath string, stderr io.Writer) error {
	lookupEnv, err := withDotenv(lookupEnv, dotenvPath)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(lookupEnv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, cancel := context.WithCancel(context.Background()) // ends the store's start-up retries
	defer cancel()
	store, starting, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()

	ln, inherited, err := listen(activated, cfg.Addr)
	if err != nil {
		return err
	}
	drain := &drainer{}
	srv := newHTTPServer(newServer(log, store, cfg.CORS, startAuth(cfg.Auth, log), drain), log, readHeaderTimeout)
	srv.ConnState = drain.trackConn
	srv.RegisterOnShutdown(drain.endStreams) // Shutdown waits for handlers: a stream's too
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "inherited_socket", inherited)

	sig, fatal := waitForSignal(signals, serveErr, starting, cfg)
	cancel()
	if fatal == nil {
		drainConnections(drain, ln, inherited, signals, sig, cfg.ShutdownDrain, log)
	}
	log.Info("shutting down: finishing requests in flight")
	// A fresh context: Shutdown needs time to let the requests in flight
	// finish.
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("shutdown cut requests short", "err", err)
	}
	log.Info("stopped")
	return fatal
}

// waitForSignal serves until the first signal (returned) or until the
// server or the store's start-up fails for good (that error).
func waitForSignal(signals <-chan os.Signal, serveErr <-chan error, starting <-chan error, cfg config) (os.Signal, error) {
	for {
		select {
		case err := <-serveErr:
			return nil, fmt.Errorf("serve: %w", err)
		case err := <-starting:
			starting = nil // a nil channel never fires again
			if err != nil {
				return nil, fmt.Errorf("PostgreSQL at %s/%s: %w", cfg.Postgres.Host, cfg.Postgres.Database, err)
			}
		case sig := <-signals:
			return sig, nil
		}
	}
}

// drainConnections is the drain: /readyz turns 503 and every answer closes
// its connection at once; with an inherited socket the process stops
// accepting (its successor accepts on the same socket), with its own it
// goes on accepting for load balancers that still send until they see
// /readyz fail. It then waits, up to limit, for the open connections to
// end; a second signal ends the wait.
func drainConnections(d *drainer, ln net.Listener, inherited bool, signals <-chan os.Signal, first os.Signal,
	limit time.Duration, log *slog.Logger) {
	allClosed := d.start()
	if inherited {
		ln.Close() // Serve returns; the socket stays open in the successor
	}
	// Logged once the drain is on: a watcher of the log may rely on it.
	log.Info("signal received: draining", "signal", first.String(), "drain", limit)
	if limit <= 0 {
		return
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-allClosed:
		log.Info("drained: every connection closed")
	case <-timer.C:
		log.Info("drain time is up")
	case sig := <-signals:
		log.Info("second signal: drain cut short", "signal", sig.String())
	}
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
		return newMemStore(cfg.Store.MaxTasks), nil, nil
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
