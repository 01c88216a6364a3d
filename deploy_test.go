package main

// The files of deploy/: that they agree with the service's own limits and
// with each other, and (with nginx installed) that the nginx configuration
// in front of three instances drops nothing through rolling restarts.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// directive returns the value of the first line of a file that starts with
// name (an nginx directive or a systemd key), without a trailing ";".
func directive(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `[\s=]+([^;\n]*)`)
	m := re.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("%s has no %s", file, name)
	}
	return strings.TrimSpace(m[1])
}

// nginxLocation returns the pattern of an nginx file's first regex location
// whose pattern contains part, and that location's body without its
// comment lines.
func nginxLocation(t *testing.T, file, part string) (pattern, body string) {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(readFile(t, file), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			lines = append(lines, line)
		}
	}
	conf := strings.Join(lines, "\n")
	for _, m := range regexp.MustCompile(`(?m)^\s*location\s+~\s+(\S+)\s*\{`).FindAllStringSubmatchIndex(conf, -1) {
		if pattern = conf[m[2]:m[3]]; !strings.Contains(pattern, part) {
			continue
		}
		depth := 1
		for i := m[1]; i < len(conf); i++ {
			switch conf[i] {
			case '{':
				depth++
			case '}':
				if depth--; depth == 0 {
					return pattern, conf[m[1]:i]
				}
			}
		}
		t.Fatalf("%s: location %s has no end", file, pattern)
	}
	t.Fatalf("%s has no regex location for %s", file, part)
	return "", ""
}

// duration reads an nginx or systemd time such as 1s, 35s or 20s.
func duration(t *testing.T, what, v string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s: %q is not a duration", what, v)
	}
	return d
}

// TestDeployFilesAgree: the nginx configuration and the systemd units keep
// within the service's own limits and timings, and with each other: nginx
// closes idle upstream connections before an instance's drain ends,
// systemd allows the drain and the shutdown before it kills, and nginx
// passes what the service accepts.
func TestDeployFilesAgree(t *testing.T) {
	t.Parallel()
	const nginx, service, socket = "deploy/nginx.conf", "deploy/tasksvc.service", "deploy/tasksvc.socket"
	drain := duration(t, "SHUTDOWN_DRAIN", strings.TrimPrefix(directive(t, service, "Environment"), "SHUTDOWN_DRAIN="))
	if drain <= 0 || drain > maxShutdownDrain {
		t.Errorf("SHUTDOWN_DRAIN=%v in %s", drain, service)
	}
	if stop := duration(t, "TimeoutStopSec", directive(t, service, "TimeoutStopSec")); stop < drain+shutdownTimeout {
		t.Errorf("TimeoutStopSec %v is less than the drain %v and the shutdown %v", stop, drain, shutdownTimeout)
	}
	if keep := duration(t, "upstream keepalive_timeout", directive(t, nginx, "keepalive_timeout")); keep >= drain {
		t.Errorf("nginx keeps idle upstream connections %v, not less than the drain %v", keep, drain)
	}
	if read := duration(t, "proxy_read_timeout", directive(t, nginx, "proxy_read_timeout")); read <= writeTimeout {
		t.Errorf("proxy_read_timeout %v would cut off an answer the service may take %v to write", read, writeTimeout)
	}
	if body := directive(t, nginx, "client_max_body_size"); body != strconv.Itoa(maxBodyBytes>>20)+"m" {
		t.Errorf("client_max_body_size %s, the service takes %d bytes", body, maxBodyBytes)
	}
	if headers := directive(t, nginx, "large_client_header_buffers"); !strings.HasSuffix(headers, strconv.Itoa(maxHeaderBytes>>10)+"k") {
		t.Errorf("large_client_header_buffers %s, the service takes %d bytes of headers", headers, maxHeaderBytes)
	}
	if listen := directive(t, socket, "ListenStream"); !strings.Contains(readFile(t, nginx), "server "+listen+" ") {
		t.Errorf("nginx's upstream does not name the socket's address %s", listen)
	}
	for _, key := range []string{"Requires=tasksvc.socket", "EnvironmentFile=", "DynamicUser=yes", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "KillSignal=SIGTERM"} {
		if !strings.Contains(readFile(t, service), "\n"+key) {
			t.Errorf("%s lacks %s", service, key)
		}
	}
}

// TestNginxStreamsEvents: deploy/nginx.conf's location for the event
// stream matches exactly its route, passes each event on at once, and
// waits longer than the service's heartbeat before it gives up on a quiet
// stream; otherwise it keeps the API's settings, which it inherits.
func TestNginxStreamsEvents(t *testing.T) {
	t.Parallel()
	const nginx = "deploy/nginx.conf"
	pattern, body := nginxLocation(t, nginx, "/tasks/events")
	// The pattern is PCRE in nginx; this one reads the same in Go.
	re, err := regexp.Compile(pattern)
	if err != nil {
		t.Fatalf("location %s: %v", pattern, err)
	}
	for path, want := range map[string]bool{"/api/u1/tasks/events": true, "/api/user-2_x/tasks/events": true,
		"/api/u1/tasks": false, "/api/u1/tasks/events/": false, "/api/u1/tasks/events/x": false,
		"/api/u1/x/tasks/events": false, "/api//tasks/events": false, "/x/api/u1/tasks/events": false} {
		if re.MatchString(path) != want {
			t.Errorf("location %s matches %s: %v, want %v", pattern, path, !want, want)
		}
	}
	value := func(name string) string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s+([^;\n]*)`).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("location %s has no %s", pattern, name)
			return ""
		}
		return strings.TrimSpace(m[1])
	}
	if v := value("proxy_pass"); v != "http://tasksvc" {
		t.Errorf("location %s: proxy_pass %s", pattern, v)
	}
	if v := value("proxy_buffering"); v != "off" {
		t.Errorf("location %s: proxy_buffering %q, want off so that each event is passed on at once", pattern, v)
	}
	if v := value("proxy_read_timeout"); v != "" {
		if read := duration(t, "events proxy_read_timeout", v); read <= heartbeatInterval {
			t.Errorf("location %s: proxy_read_timeout %v would close a quiet stream between its heartbeats, sent every %v",
				pattern, read, heartbeatInterval)
		}
	}
	if v := value("proxy_next_upstream"); !strings.Contains(" "+v+" ", " http_503 ") || strings.Contains(v, "non_idempotent") {
		t.Errorf("location %s: proxy_next_upstream %s, want http_503 (a draining instance) and no non_idempotent", pattern, v)
	}
	// One of these in the location would replace all those of its kind
	// that it inherits from the server: the proxy headers, the limits,
	// the JSON error pages.
	for _, name := range []string{"proxy_set_header", "add_header", "error_page", "limit_req", "limit_conn"} {
		if regexp.MustCompile(`(?m)(^|;)\s*` + name + `\s`).MatchString(body) {
			t.Errorf("location %s sets %s, which drops the server's %s", pattern, name, name)
		}
	}
}

// nginxBinary returns nginx's path, or skips the test when TEST_NGINX is
// unset; with it set (CI sets it), a missing nginx fails the test.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("TEST_NGINX") == "" {
		t.Skip("TEST_NGINX is not set")
	}
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("TEST_NGINX is set but nginx is not installed")
	return ""
}

// nginxProxy is deploy/nginx.conf running in front of test instances.
type nginxProxy struct {
	base, accessLog string
}

// startNginx renders deploy/nginx.conf for upstreams (the three instances'
// addresses) and a free port, in a temporary directory, starts nginx on it
// in the foreground, stops it by its PID when the test ends, and returns
// once it answers.
func startNginx(t *testing.T, upstreams []string) *nginxProxy {
	t.Helper()
	bin := nginxBinary(t)
	dir := t.TempDir()
	port := freePort(t)
	conf := readFile(t, "deploy/nginx.conf")
	replacements := []string{"pid /run/nginx-tasksvc.pid;", "pid " + dir + "/nginx.pid;",
		"/var/log/nginx/", dir + "/", "listen 8000;", "listen 127.0.0.1:" + port + ";"}
	for i, addr := range upstreams {
		replacements = append(replacements, fmt.Sprintf("server 127.0.0.1:%d ", 8001+i), "server "+addr+" ")
	}
	conf = strings.NewReplacer(replacements...).Replace(conf)
	if err := os.WriteFile(dir+"/nginx.conf", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", dir+"/nginx.conf", "-g", "daemon off;")
	out, err := os.Create(dir + "/nginx.out")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	p := &nginxProxy{base: "http://127.0.0.1:" + port, accessLog: dir + "/tasksvc-access.log"}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx's output:\n%s", readFile(t, dir+"/nginx.out"))
		}
	})
	// nginx has no readiness signal to wait on, so its health is polled.
	eventually(t, 5*time.Second, "nginx answers", func() bool {
		resp, err := http.Get(p.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// retries counts the requests nginx sent to more than one instance: their
// log lines name several upstream addresses.
func (p *nginxProxy) retries(t *testing.T) int {
	t.Helper()
	return len(retriedUpstream.FindAllStringIndex(readFile(t, p.accessLog), -1))
}

var retriedUpstream = regexp.MustCompile(`upstream="[^"]*,`)

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestServiceBehindNginxRestartsWithoutErrors: three instances on one
// database behind deploy/nginx.conf, each on a socket held as systemd holds
// it, under a steady load of creates (with keys, retried with the same key
// on an error) and reads from 20 clients. Two rolling passes, each instance
// in turn handing its socket to a successor and draining: no client sees an
// error. Then a SIGKILL mid-load: errors are allowed there, and the
// retries recover them. Throughout, no acknowledged create is lost or made
// twice; concurrent toggles spread over the instances flip exactly as many
// times as sent; and a burst from one client gets JSON 429s.
func TestServiceBehindNginxRestartsWithoutErrors(t *testing.T) {
	t.Parallel()
	dbURL := testPostgresURL(t, "TEST_DATABASE_URL")
	nginxBinary(t)
	bin := buildService(t)
	env := []string{"DATABASE_URL=" + dbURL, "SHUTDOWN_DRAIN=3s", "DATABASE_MAX_CONNS=4"}
	var sockets []*net.TCPListener
	var instances []*service
	var upstreams []string
	for range 3 {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		sockets = append(sockets, ln)
		instances = append(instances, startOnSocket(t, bin, ln, env...))
		upstreams = append(upstreams, ln.Addr().String())
	}
	proxy := startNginx(t, upstreams)
	l := startLoad(t, proxy.base, newUserID(t), 20, true, 50*time.Millisecond)
	l.waitForAcks(t, 100)
	var requests, retries int
	report := func(phase string, allowErrors bool) {
		errs := l.takeErrors()
		r, n := int(l.requests.Load()), proxy.retries(t)
		t.Logf("%s: %d requests, %d client-visible errors, %d nginx retries", phase, r-requests, len(errs), n-retries)
		requests, retries = r, n
		if len(errs) > 0 && !allowErrors {
			t.Errorf("%s: %d client-visible errors: %q", phase, len(errs), errs)
		}
	}
	report("warm-up", false)
	for pass := 1; pass <= 2; pass++ {
		for i := range instances {
			next := startOnSocket(t, bin, sockets[i], env...)
			instances[i].stop(t)
			instances[i] = next
			l.waitForAcks(t, 30)
		}
		report(fmt.Sprintf("rolling pass %d", pass), false)
	}
	if err := instances[1].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	instances[1].wait(t)
	instances[1] = startOnSocket(t, bin, sockets[1], env...)
	l.waitForAcks(t, 100)
	report("SIGKILL and restart", true)
	l.wantEveryAckStored(t, openTestPostgres(t, dbURL))

	toggleUser := newUserID(t)
	code, body := callBase(t, proxy.base, "POST", tasksPath(toggleUser), `{"title": "flipped"}`, "10.0.0.1")
	var task testTask
	if json.Unmarshal([]byte(body), &task); code != http.StatusCreated {
		t.Fatalf("create through nginx: %d %s", code, body)
	}
	const toggles = 51
	var wg sync.WaitGroup
	for i := range toggles {
		goWait(&wg, func() {
			if code, body := callBase(t, proxy.base, "PATCH", tasksPath(toggleUser)+"/"+task.ID+"/complete", "", fmt.Sprint("10.0.1.", i)); code != http.StatusOK {
				t.Errorf("toggle %d: %d %s", i, code, body)
			}
		})
	}
	wg.Wait()
	if _, body := callBase(t, proxy.base, "GET", tasksPath(toggleUser)+"/"+task.ID, "", "10.0.0.1"); !strings.Contains(body, `"is_completed":true`) {
		t.Errorf("after %d toggles spread over the instances: %s", toggles, body)
	}

	wantBurstLimited(t, proxy.base)
	for _, s := range instances {
		s.stop(t)
	}
}

// callBase sends one request from the loopback address 127.x.y.z that
// source (a dotted 10.x.y.z) names, so that each caller is a client of its
// own to nginx's per-address limits.
func callBase(t *testing.T, base, method, path, body, source string) (int, string) {
	t.Helper()
	ip := net.ParseIP(source).To4()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, ip[1], ip[2], ip[3])}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// wantBurstLimited sends a burst of requests from one client, well past
// nginx's per-client rate and burst, and wants some refused with a JSON 429
// in the service's error shape, and the others answered.
func wantBurstLimited(t *testing.T, base string) {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, 1)}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxConnsPerHost: 32}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var limited, served atomic.Int32
	var wg sync.WaitGroup
	for range 400 {
		goWait(&wg, func() {
			resp, err := client.Get(base + "/healthz")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			switch {
			case resp.StatusCode == http.StatusOK:
				served.Add(1)
			case resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Content-Type") == "application/json" &&
				string(b) == `{"detail":"Too Many Requests"}` && resp.Header.Get("Retry-After") != "":
				limited.Add(1)
			default:
				t.Errorf("burst: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		})
	}
	wg.Wait()
	t.Logf("burst of 400 from one client: %d served, %d refused with a JSON 429", served.Load(), limited.Load())
	if limited.Load() == 0 || served.Load() == 0 {
		t.Errorf("burst of 400: %d served and %d limited, want some of each", served.Load(), limited.Load())
	}
}

// TestDockerfileCopiesWhatIsEmbedded: every file a //go:embed directive
// names is in the image's build context (.dockerignore lets it through)
// and copied into the build stage, or `docker build` fails where CI,
// which has no Docker engine, cannot see it.
func TestDockerfileCopiesWhatIsEmbedded(t *testing.T) {
	t.Parallel()
	dockerfile, ignore := readFile(t, "Dockerfile"), readFile(t, ".dockerignore")
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	embed := regexp.MustCompile(`(?m)^//go:embed (.+)$`)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		for _, m := range embed.FindAllStringSubmatch(readFile(t, name), -1) {
			for _, pattern := range strings.Fields(m[1]) {
				top, _, _ := strings.Cut(pattern, "/")
				if !strings.Contains(dockerfile, " "+top+" ") {
					t.Errorf("%s embeds %s, which the Dockerfile does not COPY", name, pattern)
				}
				if !strings.Contains(ignore, "\n!"+top+"\n") {
					t.Errorf("%s embeds %s, which .dockerignore keeps out of the build context", name, pattern)
				}
			}
		}
	}
}
