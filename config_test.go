package main

// Configuration: the environment variables loadConfig reads, .env files,
// and the lists of variables in -h and .env.example, held to what
// loadConfig reads.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// envMap is a lookupFunc over a fixed set of variables.
func envMap(vars map[string]string) lookupFunc {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8000" || cfg.Postgres != nil || cfg.CORS.anyOrigin || !slices.Equal(cfg.CORS.origins, []string{"http://localhost:3000"}) {
		t.Errorf("defaults = %+v", cfg)
	}
	if cfg.Store.MaxTasks != 10000 {
		t.Errorf("MaxTasks = %d, want 10000", cfg.Store.MaxTasks)
	}
	if want := (pgOptions{Timeout: 5 * time.Second, MaxConns: 20, MaxIdleConns: 20, ConnMaxIdleTime: 4 * time.Minute, MaxTasks: 10000, TombstoneWindow: tombstoneWindow, SweepInterval: defaultSweepInterval}); cfg.Store != want {
		t.Errorf("store defaults = %+v, want %+v", cfg.Store, want)
	}
	cfg, err = loadConfig(envMap(map[string]string{"PORT": " ", "DATABASE_URL": "", "CORS_ORIGINS": ""}))
	if err != nil || cfg.Addr != ":8000" || cfg.Postgres != nil {
		t.Errorf("empty variables should mean defaults: %+v, %v", cfg, err)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(envMap(map[string]string{
		"PORT":         "9090",
		"DATABASE_URL": "postgres://u:p@db.example/tasks?sslmode=verify-full",
		"CORS_ORIGINS": " https://app.example/ , http://localhost:5173",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":9090" || cfg.Postgres == nil || cfg.Postgres.Host != "db.example" ||
		!slices.Equal(cfg.CORS.origins, []string{"https://app.example", "http://localhost:5173"}) {
		t.Errorf("config = %+v", cfg)
	}
	cfg, err = loadConfig(envMap(map[string]string{
		"DATABASE_TIMEOUT": "2500ms", "DATABASE_MAX_CONNS": "5", "DATABASE_MAX_IDLE_TIME": "90s", "MAX_TASKS_PER_USER": "0",
	}))
	// Idle connections follow a smaller pool unless set.
	if want := (pgOptions{Timeout: 2500 * time.Millisecond, MaxConns: 5, MaxIdleConns: 5, ConnMaxIdleTime: 90 * time.Second, TombstoneWindow: tombstoneWindow, SweepInterval: defaultSweepInterval}); err != nil || cfg.Store != want || cfg.Store.MaxTasks != 0 {
		t.Errorf("store options = %+v, %v; want %+v", cfg.Store, err, want)
	}
	for _, tt := range []struct {
		url, prepare string
		want         bool
	}{
		{"postgres://u:p@db.example/tasks", "", true},
		{"postgres://u:p@ep-x-pooler.neon.tech/tasks", "", false},
		{"postgres://u:p@ep-x-pooler.neon.tech/tasks", "on", true},
		{"postgres://u:p@db.example/tasks", "off", false},
	} {
		cfg, err := loadConfig(envMap(map[string]string{"DATABASE_URL": tt.url, "DATABASE_PREPARE": tt.prepare}))
		if err != nil || cfg.Store.Prepare != tt.want {
			t.Errorf("%s with DATABASE_PREPARE=%q: prepare = %v, %v; want %v", tt.url, tt.prepare, cfg.Store.Prepare, err, tt.want)
		}
	}
	cfg, err = loadConfig(envMap(map[string]string{"DATABASE_MAX_CONNS": "5", "DATABASE_MAX_IDLE_CONNS": "20"}))
	if err != nil || cfg.Store.MaxIdleConns != 5 {
		t.Errorf("20 idle of 5 connections: %+v, %v; want 5 idle", cfg.Store, err)
	}
	cfg, err = loadConfig(envMap(map[string]string{"DATABASE_MAX_IDLE_CONNS": "0"}))
	if err != nil || cfg.Store.MaxIdleConns != 0 {
		t.Errorf("DATABASE_MAX_IDLE_CONNS=0: %+v, %v", cfg.Store, err)
	}
	cfg, err = loadConfig(envMap(map[string]string{"CORS_ORIGINS": "*"}))
	if err != nil || !cfg.CORS.anyOrigin {
		t.Errorf("CORS_ORIGINS=*: %+v, %v", cfg.CORS, err)
	}
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	t.Parallel()
	for _, vars := range []map[string]string{
		{"PORT": "http"}, {"PORT": "-1"}, {"PORT": "65536"},
		{"DATABASE_URL": "localhost:5432"},
		{"CORS_ORIGINS": "localhost:3000"}, {"CORS_ORIGINS": "http://a.example/app"},
		{"DATABASE_TIMEOUT": "5"}, {"DATABASE_TIMEOUT": "0s"}, {"DATABASE_TIMEOUT": "1m"},
		{"DATABASE_MAX_CONNS": "0"}, {"DATABASE_MAX_CONNS": "many"},
		{"DATABASE_MAX_IDLE_CONNS": "-1"},
		{"DATABASE_MAX_IDLE_TIME": "10ms"}, {"DATABASE_PREPARE": "yes"},
		{"MAX_TASKS_PER_USER": "-1"}, {"MAX_TASKS_PER_USER": "lots"},
	} {
		wantConfigError(t, vars)
	}
}

// wantConfigError checks that loadConfig refuses vars with an error naming
// each of them, and returns the error (nil if there was none).
func wantConfigError(t *testing.T, vars map[string]string) error {
	t.Helper()
	_, err := loadConfig(envMap(vars))
	if err == nil {
		t.Errorf("%v: no error", vars)
		return nil
	}
	for key := range vars {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("%v: error %q does not name %s", vars, err, key)
		}
	}
	return err
}

func TestParseDotenv(t *testing.T) {
	t.Parallel()
	got, err := parseDotenv(strings.NewReader(`
# a comment
PORT=9000
export DATABASE_URL = "postgres://u:p@h/db?sslmode=require&channel_binding=require"
CORS_ORIGINS='http://a.example, http://b.example'
EMPTY=
HASH=a#b # comment
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PORT":         "9000",
		"DATABASE_URL": "postgres://u:p@h/db?sslmode=require&channel_binding=require",
		"CORS_ORIGINS": "http://a.example, http://b.example",
		"EMPTY":        "",
		"HASH":         "a#b",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("parsed %v", got)
	}
	for _, bad := range []string{"DATABASE_URL postgres://x", `SECRET="unclosed`, `SECRET="a" b`} {
		_, err = parseDotenv(strings.NewReader("PORT=1\n" + bad + "\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: err = %v, want one naming line 2", bad, err)
		}
	}
}

// TestParseDotenvQuotesAsPythonDotenv: quoted values end at their closing
// quote, a comment may follow, and escapes are read as python-dotenv reads
// them, so a .env shared with the FastAPI service means the same here.
func TestParseDotenvQuotesAsPythonDotenv(t *testing.T) {
	t.Parallel()
	got, err := parseDotenv(strings.NewReader(`
DOUBLE_COMMENT="s3cr3t value" # the secret
SINGLE_COMMENT='s3cr3t value'   # the secret
BARE_COMMENT=s3cr3t # the secret
DOUBLE_ESCAPES="a\"b\\c\nd\te\qf"
SINGLE_ESCAPES='a\'b\\c\nd'
HASH_INSIDE="a # b"
`))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"DOUBLE_COMMENT": "s3cr3t value",
		"SINGLE_COMMENT": "s3cr3t value",
		"BARE_COMMENT":   "s3cr3t",
		"DOUBLE_ESCAPES": "a\"b\\c\nd\te\\qf",
		"SINGLE_ESCAPES": `a'b\c\nd`,
		"HASH_INSIDE":    "a # b",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
}

func TestWithDotenv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("PORT=9000\nCORS_ORIGINS=http://from-file.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup, err := withDotenv(envMap(map[string]string{"PORT": "7000"}), path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := lookup("PORT"); v != "7000" {
		t.Errorf("PORT = %q, want the real environment's 7000", v)
	}
	if v, _ := lookup("CORS_ORIGINS"); v != "http://from-file.example" {
		t.Errorf("CORS_ORIGINS = %q, want the file's", v)
	}
	if _, ok := lookup("DATABASE_URL"); ok {
		t.Error("DATABASE_URL found in neither, yet reported set")
	}
	if _, err := withDotenv(envMap(nil), filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing .env: %v", err)
	}
	// An empty variable in the environment counts as unset, and still hides
	// the file's line: the default applies, as the README says.
	lookup, err = withDotenv(envMap(map[string]string{"PORT": ""}), path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := loadConfig(lookup); err != nil || cfg.Addr != ":"+defaultPort {
		t.Errorf("PORT empty in the environment, 9000 in .env: address %q (%v), want the default port %s", cfg.Addr, err, defaultPort)
	}
}

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
