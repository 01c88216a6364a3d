package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// cmdStartup starts the binary -n times on the memory store (no
// DATABASE_URL, in an empty directory so no .env is read) and measures the
// time from starting the process to the first 200 answer to GET
// /api/u/tasks, polling every 200 µs. It prints the median.
func cmdStartup(args []string) error {
	fs := flag.NewFlagSet("startup", flag.ExitOnError)
	bin := fs.String("bin", "", "service binary")
	n := fs.Int("n", 7, "starts")
	fs.Parse(args)
	dir, err := os.MkdirTemp("", "tasksvc-startup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "PORT=") {
			env = append(env, kv)
		}
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var times []time.Duration
	for range *n {
		d, err := startOnce(*bin, dir, env, client)
		if err != nil {
			return err
		}
		times = append(times, d)
	}
	slices.Sort(times)
	all := make([]string, len(times))
	for i, t := range times {
		all[i] = fmt.Sprintf("%.1f", float64(t.Microseconds())/1000)
	}
	fmt.Printf("STARTUP n=%d median_ms=%s min_ms=%s max_ms=%s all_ms=%s\n", *n,
		all[len(all)/2], all[0], all[len(all)-1], strings.Join(all, ","))
	return nil
}

// startOnce starts the binary on a free port, waits for the first
// successful list request and stops the process again.
func startOnce(bin, dir string, env []string, client *http.Client) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(env, "PORT="+port)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	url := "http://127.0.0.1:" + port + "/api/u/tasks"
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	for time.Since(start) < 10*time.Second {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, errors.New("no answer within 10 s; stderr: " + stderr.String())
}

// freePort asks the kernel for a port that is free right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}
