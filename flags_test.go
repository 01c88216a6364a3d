package main

// The command line (-h, -version, mistakes) and the lists of environment
// variables in -h and .env.example, held to what loadConfig reads.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
)

// variablesRead returns every environment variable loadConfig asks for.
func variablesRead(t testing.TB) []string {
	t.Helper()
	var asked []string
	lookup := func(key string) (string, bool) {
		if !slices.Contains(asked, key) {
			asked = append(asked, key)
		}
		return "", false
	}
	if _, err := loadConfig(lookup); err != nil {
		t.Fatal(err)
	}
	slices.Sort(asked)
	return asked
}

func envVarNames() []string {
	var names []string
	for _, v := range envVars {
		names = append(names, v.name)
	}
	slices.Sort(names)
	return names
}

// TestEnvVarsListsWhatLoadConfigReads: the variables -h documents are
// exactly those the service reads, so a new one cannot go undocumented.
func TestEnvVarsListsWhatLoadConfigReads(t *testing.T) {
	t.Parallel()
	if read, listed := variablesRead(t), envVarNames(); !slices.Equal(read, listed) {
		t.Errorf("loadConfig reads %q, -h lists %q", read, listed)
	}
}

// TestEnvExampleListsEveryVariable: .env.example sets every variable, to
// its default (DATABASE_URL empty, which means the memory store), and
// parses as the .env it is meant to be copied to.
func TestEnvExampleListsEveryVariable(t *testing.T) {
	t.Parallel()
	f, err := os.Open(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars, err := parseDotenv(f)
	if err != nil {
		t.Fatalf(".env.example: %v", err)
	}
	var names []string
	for name := range vars {
		names = append(names, name)
	}
	slices.Sort(names)
	if read := variablesRead(t); !slices.Equal(names, read) {
		t.Errorf(".env.example sets %q, loadConfig reads %q", names, read)
	}
	want := map[string]string{"PORT": defaultPort, "DATABASE_URL": "", "CORS_ORIGINS": defaultCORSOrigins}
	for name, value := range want {
		if vars[name] != value {
			t.Errorf(".env.example: %s=%q, want the default %q", name, vars[name], value)
		}
	}
	cfg, err := loadConfig(envMap(vars))
	if err != nil {
		t.Fatalf(".env.example as configuration: %v", err)
	}
	if defaults, _ := loadConfig(envMap(nil)); cfg.Addr != defaults.Addr || cfg.Postgres != nil {
		t.Errorf(".env.example configures %+v, not the defaults %+v", cfg, defaults)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args           []string
		exit           bool
		code           int
		stdout, stderr *regexp.Regexp // nil: must be empty
	}{
		{nil, false, 0, nil, nil},
		{[]string{"-h"}, true, 0, regexp.MustCompile(`(?s)^Usage: tasksvc.*PORT.*-version`), nil},
		{[]string{"--help"}, true, 0, regexp.MustCompile(`^Usage: tasksvc`), nil},
		{[]string{"-version"}, true, 0, regexp.MustCompile(`^tasksvc \S+\ngo1\.`), nil},
		{[]string{"-nope"}, true, 2, nil, regexp.MustCompile(`(?s)^flag provided but not defined: -nope\nUsage: tasksvc`)},
		{[]string{"serve"}, true, 2, nil, regexp.MustCompile(`(?s)^unexpected argument "serve"\nUsage: tasksvc`)},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		exit, code := parseFlags(tt.args, &stdout, &stderr)
		if exit != tt.exit || code != tt.code {
			t.Errorf("%q: exit %v with %d, want %v with %d", tt.args, exit, code, tt.exit, tt.code)
		}
		for _, out := range []struct {
			name string
			got  string
			want *regexp.Regexp
		}{{"stdout", stdout.String(), tt.stdout}, {"stderr", stderr.String(), tt.stderr}} {
			if out.want == nil && out.got != "" || out.want != nil && !out.want.MatchString(out.got) {
				t.Errorf("%q: %s = %q, want %v", tt.args, out.name, out.got, out.want)
			}
		}
	}
}

// TestUsageShowsEveryVariableWithItsDefault: each variable's line in -h
// names its default.
func TestUsageShowsEveryVariableWithItsDefault(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	parseFlags([]string{"-h"}, &stdout, &bytes.Buffer{})
	for _, v := range envVars {
		re := regexp.MustCompile(`(?m)^  ` + v.name + ` +.+\n +\(default: ` + regexp.QuoteMeta(v.def) + `\)$`)
		if !re.MatchString(stdout.String()) {
			t.Errorf("-h does not show %s with default %q:\n%s", v.name, v.def, stdout.String())
		}
	}
}

func TestVersionText(t *testing.T) {
	t.Parallel()
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "tasksvc", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.modified", Value: "true"}, {Key: "-trimpath", Value: "true"},
			{Key: "vcs.revision", Value: "f8891dc"}, {Key: "vcs.time", Value: "2026-11-25T23:12:00Z"},
		}}
	want := "tasksvc v1.2.3\ngo1.26.8\nvcs.revision=f8891dc\nvcs.time=2026-11-25T23:12:00Z\nvcs.modified=true\n"
	if got := versionText(info); got != want {
		t.Errorf("versionText = %q, want %q", got, want)
	}
	info.Settings = nil // built outside a repository: no vcs lines
	if got := versionText(info); got != "tasksvc v1.2.3\ngo1.26.8\n" {
		t.Errorf("without VCS: %q", got)
	}
	if got := versionText(nil); !strings.Contains(got, "no build information") {
		t.Errorf("without build info: %q", got)
	}
}

// TestBinaryFlags: the real binary's -version agrees with the build
// information `go version -m` reads from it, -h lists the variables, and
// both exit 0 without serving; a wrong flag exits 2.
func TestBinaryFlags(t *testing.T) {
	t.Parallel()
	bin := buildService(t)
	// -version is checked on a build that records the VCS revision when it
	// can (in a clone; not in a git worktree), whatever GOFLAGS says.
	versioned := filepath.Join(t.TempDir(), "tasksvc")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", versioned, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	runBin := func(bin string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		var out, errOut bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		cmd.Env = []string{"PORT=http"} // would refuse to start: the flags must exit first
		err := cmd.Run()
		if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
			return out.String(), errOut.String(), exitErr.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), 0
	}

	stdout, stderr, code := runBin(versioned, "-version")
	if code != 0 || stderr != "" {
		t.Errorf("-version: exit %d, stderr %q", code, stderr)
	}
	meta, err := exec.CommandContext(ctx, "go", "version", "-m", versioned).Output()
	if err != nil {
		t.Fatal(err)
	}
	// go version -m prints "\tmod\ttasksvc\t<version>" and "\tbuild\tvcs.revision=…".
	version := regexp.MustCompile(`(?m)^\tmod\ttasksvc\t(\S+)`).FindSubmatch(meta)
	if version == nil {
		t.Fatalf("go version -m shows no main module:\n%s", meta)
	}
	want := []string{"tasksvc " + string(version[1])}
	for _, m := range regexp.MustCompile(`(?m)^\tbuild\t(vcs\.(?:revision|time|modified)=\S+)$`).FindAllSubmatch(meta, -1) {
		want = append(want, string(m[1]))
	}
	for _, line := range want {
		if !strings.Contains(stdout, line+"\n") {
			t.Errorf("-version output %q lacks %q (from go version -m)", stdout, line)
		}
	}

	stdout, stderr, code = runBin(bin, "-h")
	if code != 0 || stderr != "" {
		t.Errorf("-h: exit %d, stderr %q", code, stderr)
	}
	for _, name := range variablesRead(t) {
		if !strings.Contains(stdout, "  "+name+" ") {
			t.Errorf("-h does not list %s:\n%s", name, stdout)
		}
	}

	stdout, stderr, code = runBin(bin, "-bogus")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "-bogus") {
		t.Errorf("-bogus: exit %d, stdout %q, stderr %q; want 2, nothing, the flag named", code, stdout, stderr)
	}
}
