package main

// The command line: -version and -h. Everything else is configured through
// the environment (see loadConfig), which -h lists.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
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
	{"CORS_ORIGINS", defaultCORSOrigins, "browser origins allowed to call the API, comma-separated, or *"},
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

// parseFlags reads the command line. exit is true when the process should
// stop with code instead of serving: after -h (0), -version (0) or a
// mistake (2, as the flag package does).
func parseFlags(args []string, stdout, stderr io.Writer) (exit bool, code int) {
	fs := flag.NewFlagSet("tasksvc", flag.ContinueOnError)
	fs.SetOutput(stderr) // where the flag package reports a mistake
	version := fs.Bool("version", false, "print the version and exit")
	// Usage is printed below instead: to stdout when asked for, to stderr
	// after a mistake.
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, fs)
		return true, 0
	case err != nil:
		printUsage(stderr, fs)
		return true, 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		printUsage(stderr, fs)
		return true, 2
	case *version:
		info, _ := debug.ReadBuildInfo()
		fmt.Fprint(stdout, versionText(info))
		return true, 0
	}
	return false, 0
}

// printUsage explains the flags and lists every environment variable with
// its default.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: tasksvc [-version]

Serves the task API over HTTP until SIGINT or SIGTERM. It is configured by
environment variables; a .env file in the working directory fills in those
that are not set. An empty variable counts as unset.

Environment:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range envVars {
		fmt.Fprintf(tw, "  %s\t%s\n  \t(default: %s)\n", v.name, v.help, v.def)
	}
	// lib/pq reads these itself; they are not ours to default.
	fmt.Fprint(tw, "  PG...\tPGSSLMODE, PGPASSWORD and the other libpq variables fill in\n"+
		"  \twhat DATABASE_URL leaves out (default: unset)\n")
	tw.Flush()
	fmt.Fprint(w, "\nFlags:\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  -h, -help\tprint this help and exit\n")
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(tw, "  -%s\t%s\n", f.Name, f.Usage)
	})
	tw.Flush()
}

// versionText describes the build: the main module's version, the Go
// version, and the VCS revision, time and modified flag when the build
// recorded them. info is nil when the binary has no build information.
func versionText(info *debug.BuildInfo) string {
	if info == nil {
		return "tasksvc (no build information)\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tasksvc %s\n%s\n", info.Main.Version, info.GoVersion)
	for _, key := range []string{"vcs.revision", "vcs.time", "vcs.modified"} {
		for _, s := range info.Settings {
			if s.Key == key {
				fmt.Fprintf(&b, "%s=%s\n", s.Key, s.Value)
			}
		}
	}
	return b.String()
}
