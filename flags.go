package main

// The command line: -version and -h. Everything else is configured through
// the environment (see config.go), which -h lists.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"text/tabwriter"
)

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
