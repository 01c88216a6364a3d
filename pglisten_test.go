package main

import (
	"strings"
	"testing"
)

// TestListenURL: the LISTEN connection goes to DATABASE_LISTEN_URL when
// set, and otherwise to DATABASE_URL with a Neon pooler host made direct
// and channel_binding dropped; any other URL is kept as it is.
func TestListenURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ databaseURL, override, want string }{
		{"postgres://u:p@ep-cool-1234-pooler.eu-central-1.aws.neon.tech/db?sslmode=require&channel_binding=require", "",
			"postgres://u:p@ep-cool-1234.eu-central-1.aws.neon.tech/db?sslmode=require"},
		{"postgres://u:p@ep-cool-1234-pooler.eu-central-1.aws.neon.tech:5432/db", "",
			"postgres://u:p@ep-cool-1234.eu-central-1.aws.neon.tech:5432/db"},
		{"postgres://u@db.example:6432/tasks?sslmode=disable", "", "postgres://u@db.example:6432/tasks?sslmode=disable"},
		{"postgres://u@pgbouncer-pooler/tasks", "", "postgres://u@pgbouncer-pooler/tasks"}, // no domain: not Neon's form
		{"postgres://u@ep-x-pooler.neon.tech/db", "postgres://u@direct.example/db", "postgres://u@direct.example/db"},
		{"postgres://u@db.example/db", "postgres://u@ep-y.neon.tech/db?channel_binding=require&sslmode=require",
			"postgres://u@ep-y.neon.tech/db?sslmode=require"},
		{"postgres://u@db.example/db", "postgres://u@my-pooler.example/db", "postgres://u@my-pooler.example/db"}, // as set
	} {
		if got := listenURL(tt.databaseURL, tt.override); got != tt.want {
			t.Errorf("listenURL(%q, %q) = %q, want %q", tt.databaseURL, tt.override, got, tt.want)
		}
	}
}

// TestLoadListenURL: DATABASE_LISTEN_URL is checked as DATABASE_URL is,
// with or without it, its errors naming it; it means nothing without
// DATABASE_URL.
func TestLoadListenURL(t *testing.T) {
	t.Parallel()
	if _, err := loadConfig(envMap(map[string]string{"DATABASE_URL": "postgres://u@db.example/x",
		"DATABASE_LISTEN_URL": "mysql://u@db.example/x"})); err == nil {
		t.Error("a DATABASE_LISTEN_URL that is no PostgreSQL URL was accepted")
	}
	_, err := loadConfig(envMap(map[string]string{"DATABASE_LISTEN_URL": "mysql://u@db.example/x"}))
	if err == nil || !strings.HasPrefix(err.Error(), "DATABASE_LISTEN_URL must start with") {
		t.Errorf("a bad DATABASE_LISTEN_URL without DATABASE_URL: %v, want it refused by its own name", err)
	}
	cfg, err := loadConfig(envMap(map[string]string{"DATABASE_LISTEN_URL": "postgres://u@db.example/x"}))
	if err != nil || cfg.Store.ListenURL != "" {
		t.Errorf("without DATABASE_URL: %q, %v", cfg.Store.ListenURL, err)
	}
	cfg, err = loadConfig(envMap(map[string]string{"DATABASE_URL": "postgres://u@ep-a-pooler.us-east-2.aws.neon.tech/x"}))
	if err != nil || cfg.Store.ListenURL != "postgres://u@ep-a.us-east-2.aws.neon.tech/x" {
		t.Errorf("from a Neon pooler URL: %q, %v", cfg.Store.ListenURL, err)
	}
}
