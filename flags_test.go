package main

// The command line: -h, -version and mistakes.

import (
	"bytes"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

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
