// Command delayproxy is a TCP proxy for PostgreSQL connections that adds a
// fixed one-way delay to everything it forwards, in both directions, and
// counts what goes over the wire: PostgreSQL frontend and backend protocol
// messages by type, and request→response turnarounds (round trips).
//
// The benchmark harness (bench/run.sh) puts it between a second instance of
// the service and PostgreSQL, so that a database one network hop away can be
// imitated on one machine, and so that the number of round trips the service
// makes per HTTP request can be counted rather than assumed.
//
// Usage:
//
//	delayproxy -listen 127.0.0.1:0 -target 127.0.0.1:5432 -delay 1ms -stats 127.0.0.1:0 [-log FILE]
//
// It prints one line, "delayproxy listen=ADDR stats=ADDR", once it accepts
// connections. GET http://STATS/stats answers the counters as JSON; on
// SIGINT or SIGTERM the counters are printed to stdout and it exits.
//
// The delay is applied per chunk with a timestamp, through one queue per
// direction: a chunk read at time t is written at t+delay, and chunks keep
// their order. Delays therefore overlap like a real link's latency instead of
// adding up the way a sleep before each write would (a 1,000-row result
// that arrives in ten chunks is late by 1 ms, not by 10 ms). Writes happen
// within a few microseconds of when they are due (see waitUntil); what a
// round trip through the proxy costs beyond 2 × delay is the wake-ups of
// its goroutines, tens of microseconds on an idle machine, and it is the
// same for pgbench's floor measured through it.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to accept client connections on")
	target := flag.String("target", "127.0.0.1:5432", "PostgreSQL address to forward to")
	delay := flag.Duration("delay", time.Millisecond, "one-way delay added to each chunk, in each direction")
	statsAddr := flag.String("stats", "127.0.0.1:0", "address of the HTTP endpoint that serves GET /stats")
	logPath := flag.String("log", "", "file to write a line per protocol message to (empty: no message log)")
	flag.Parse()
	if err := run(*listen, *target, *delay, *statsAddr, *logPath); err != nil {
		fmt.Fprintf(os.Stderr, "delayproxy: %v\n", err)
		os.Exit(1)
	}
}

// run accepts connections until SIGINT or SIGTERM, then prints the counters.
func run(listen, target string, delay time.Duration, statsAddr, logPath string) error {
	p := &proxy{target: target, delay: delay, start: time.Now(), stats: newStats()}
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		p.msgLog = log.New(f, "", 0)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	sln, err := net.Listen("tcp", statsAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(p.stats.snapshot())
	})
	go http.Serve(sln, mux)
	go p.serve(ln)
	fmt.Printf("delayproxy listen=%s stats=%s delay=%s target=%s\n", ln.Addr(), sln.Addr(), delay, target)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	ln.Close()
	out, _ := json.Marshal(p.stats.snapshot())
	fmt.Printf("delayproxy final stats: %s\n", out)
	return nil
}

// proxy forwards connections to target with a delay.
type proxy struct {
	target string
	delay  time.Duration
	start  time.Time
	stats  *stats
	msgLog *log.Logger // nil: no message log
	nextID int64       // guarded by stats.mu
}

// serve accepts until ln is closed.
func (p *proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

// chunk is what one read returned, and when it may be written on.
type chunk struct {
	data []byte
	due  time.Time
}

// Directions of traffic on a connection.
const (
	toServer = 1
	toClient = 2
)

// conn is the state of one proxied connection that both directions share.
type conn struct {
	id int64

	mu        sync.Mutex // guards the fields below and the parsers
	lastDir   int        // direction of the last chunk received, 0 at first
	ready     bool       // the server has sent its first ReadyForQuery
	fromCli   *parser
	fromSrv   *parser
	srvTypes  []string // backend message types of the chunk being parsed, for the log
	cliDetail []string // frontend messages of the chunk being parsed, for the log
}

func (p *proxy) handle(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		fmt.Fprintf(os.Stderr, "delayproxy: dial %s: %v\n", p.target, err)
		client.Close()
		return
	}
	p.stats.mu.Lock()
	p.nextID++
	keep := 4 // enough for a startup packet's code
	if p.msgLog != nil {
		keep = maxKeep
	}
	c := &conn{id: p.nextID, fromCli: &parser{startup: true, keep: keep}, fromSrv: &parser{keep: 4}}
	p.stats.ConnsOpened++
	p.stats.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(c, client, server, toServer) }()
	go func() { defer wg.Done(); p.pipe(c, server, client, toClient) }()
	wg.Wait()
	client.Close()
	server.Close()
	p.stats.mu.Lock()
	p.stats.ConnsClosed++
	p.stats.mu.Unlock()
}

// pipe copies src to dst, each chunk dir.delay after it was read, and
// counts what it carries. A reader goroutine stamps and queues chunks; this
// goroutine writes them when due, so reading never waits for the delay.
func (p *proxy) pipe(c *conn, src, dst net.Conn, dir int) {
	queue := make(chan chunk, 4096)
	go func() {
		defer close(queue)
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				data := append([]byte(nil), buf[:n]...)
				now := time.Now()
				p.observe(c, dir, data, now)
				queue <- chunk{data: data, due: now.Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	broken := false
	for ch := range queue {
		if broken {
			continue // drain, so the reader is never stuck
		}
		waitUntil(ch.due)
		if _, err := dst.Write(ch.data); err != nil {
			broken = true
			src.Close()
		}
	}
	// The source ended: pass the end on, so the other side sees EOF.
	if tc, ok := dst.(*net.TCPConn); ok && !broken {
		tc.CloseWrite()
	}
}

// oversleep is the running estimate, in nanoseconds, of how late a sleep
// returns on this machine. A Go timer or nanosleep(2) here wakes 100–250 µs
// late, which against 1 ms per direction is a large error, so waitUntil
// aims that much early and spins away the rest.
var oversleep atomic.Int64

// waitUntil returns at t, as precisely as it can without spinning for long.
func waitUntil(t time.Time) {
	wake := t.Add(-time.Duration(oversleep.Load()))
	if d := time.Until(wake); d > 0 {
		ts := syscall.NsecToTimespec(int64(d))
		syscall.Nanosleep(&ts, nil)
		late := min(max(time.Since(wake), 0), time.Millisecond)
		old := oversleep.Load()
		oversleep.Store(old + (int64(late)-old)/8)
	}
	for time.Now().Before(t) {
		runtime.Gosched()
	}
}

// observe counts one chunk: its messages, and whether it starts a new
// client burst or a server reply (a turnaround, that is one round trip).
func (p *proxy) observe(c *conn, dir int, data []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := p.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	switch dir {
	case toServer:
		s.BytesToServer += int64(len(data))
		if c.lastDir != toServer && c.ready {
			s.ClientBursts++
		}
		c.cliDetail = c.cliDetail[:0]
		c.fromCli.feed(data, func(m message) { p.clientMessage(c, m) })
		if p.msgLog != nil && len(c.cliDetail) > 0 {
			p.msgLog.Printf("%9.3fms conn=%d C>S %s", p.ms(now), c.id, strings.Join(c.cliDetail, " | "))
		}
	case toClient:
		s.BytesToClient += int64(len(data))
		if c.lastDir == toServer && c.ready {
			s.RoundTrips++
		}
		c.srvTypes = c.srvTypes[:0]
		c.fromSrv.feed(data, func(m message) { p.serverMessage(c, m) })
		if p.msgLog != nil && len(c.srvTypes) > 0 {
			p.msgLog.Printf("%9.3fms conn=%d S>C %s", p.ms(now), c.id, runLength(c.srvTypes))
		}
	}
	c.lastDir = dir
}

func (p *proxy) ms(t time.Time) float64 {
	return float64(t.Sub(p.start).Microseconds()) / 1000
}

// Codes of the untyped packets a client may open a connection with.
const (
	protocol3     = 196608
	sslRequest    = 80877103
	gssencRequest = 80877104
	cancelRequest = 80877102
)

// clientMessage counts one frontend message; c.mu and stats.mu are held.
func (p *proxy) clientMessage(c *conn, m message) {
	s := p.stats
	if m.startup {
		code := uint32(0)
		if len(m.body) >= 4 {
			code = binary.BigEndian.Uint32(m.body)
		}
		switch code {
		case sslRequest, gssencRequest:
			// The server answers with a single byte, then the client
			// either starts TLS or sends the real startup packet.
			c.fromSrv.expectByte = true
			c.fromCli.startup = true
			c.cliDetail = append(c.cliDetail, "SSLRequest")
		case cancelRequest:
			s.CancelRequests++
			c.cliDetail = append(c.cliDetail, "CancelRequest")
		default:
			s.Startups++
			c.cliDetail = append(c.cliDetail, "StartupMessage")
		}
		return
	}
	if !c.ready {
		c.cliDetail = append(c.cliDetail, string(m.typ)+" (before ready)")
		return // authentication: not part of any query
	}
	s.ClientMsgs[string(m.typ)]++
	if p.msgLog != nil {
		c.cliDetail = append(c.cliDetail, describeFrontend(m))
	}
}

// serverMessage counts one backend message; c.mu and stats.mu are held.
func (p *proxy) serverMessage(c *conn, m message) {
	if m.single {
		if m.typ == 'S' || m.typ == 'G' {
			c.fromCli.opaque, c.fromSrv.opaque = true, true // TLS from here on
		}
		c.srvTypes = append(c.srvTypes, "ssl:"+string(m.typ))
		return
	}
	if c.ready {
		p.stats.ServerMsgs[string(m.typ)]++
	}
	if m.typ == 'Z' {
		c.ready = true
	}
	c.srvTypes = append(c.srvTypes, string(m.typ))
}

// describeFrontend renders a frontend message for the log, with the fields
// that tell named from unnamed statements.
func describeFrontend(m message) string {
	b := m.body
	cstr := func() string {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		s := string(b[:i])
		if i < len(b) {
			b = b[i+1:]
		} else {
			b = nil
		}
		return s
	}
	switch m.typ {
	case 'P':
		name := cstr()
		full := cstr()
		h := fnv.New32a()
		h.Write([]byte(full))
		q := strings.Join(strings.Fields(full), " ")
		if len(q) > 90 {
			q = q[:90] + "…"
		}
		// The length and hash tell whether two clients send the same
		// text, white space included.
		return fmt.Sprintf("P(Parse stmt=%q len=%d fnv=%08x %q)", name, len(full), h.Sum32(), q)
	case 'B':
		portal := cstr()
		stmt := cstr()
		return fmt.Sprintf("B(Bind portal=%q stmt=%q)", portal, stmt)
	case 'D':
		if len(b) > 0 {
			kind := b[0]
			b = b[1:]
			return fmt.Sprintf("D(Describe %c %q)", kind, cstr())
		}
	case 'E':
		return fmt.Sprintf("E(Execute portal=%q)", cstr())
	case 'C':
		if len(b) > 0 {
			kind := b[0]
			b = b[1:]
			return fmt.Sprintf("C(Close %c %q)", kind, cstr())
		}
	case 'S':
		return "S(Sync)"
	case 'H':
		return "H(Flush)"
	case 'Q':
		q := strings.Join(strings.Fields(cstr()), " ")
		if len(q) > 90 {
			q = q[:90] + "…"
		}
		return fmt.Sprintf("Q(Query %q)", q)
	case 'X':
		return "X(Terminate)"
	}
	return string(m.typ)
}

// runLength writes D D D as D×3.
func runLength(types []string) string {
	var out []string
	for i := 0; i < len(types); {
		j := i
		for j < len(types) && types[j] == types[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s×%d", types[i], j-i))
		} else {
			out = append(out, types[i])
		}
		i = j
	}
	return strings.Join(out, " ")
}

// message is one protocol message. Only the first maxKeep bytes of its body
// are kept, which is enough for the log (a whole Parse of any statement
// here).
type message struct {
	typ     byte // 0 for a startup-style packet
	startup bool // untyped packet: StartupMessage, SSLRequest, CancelRequest
	single  bool // the server's one-byte answer to SSLRequest/GSSENCRequest
	length  int  // body length
	body    []byte
}

const maxKeep = 16 << 10

// parser splits one direction of a connection into messages, whatever the
// chunk boundaries are.
type parser struct {
	startup    bool // the next packet is untyped (client side, before startup)
	expectByte bool // the next byte is a lone SSL/GSS answer (server side)
	opaque     bool // TLS: nothing more can be read
	keep       int  // body bytes to keep per message: 4 (a startup code) or maxKeep

	hdr    [5]byte
	hdrN   int
	cur    message
	remain int  // body bytes still to come
	inBody bool // reading cur's body, not a header
}

// feed parses data and calls emit for every message it completes.
func (p *parser) feed(data []byte, emit func(message)) {
	for len(data) > 0 && !p.opaque {
		if p.expectByte && !p.inBody && p.hdrN == 0 {
			emit(message{typ: data[0], single: true})
			p.expectByte = false
			data = data[1:]
			continue
		}
		if p.inBody {
			n := min(p.remain, len(data))
			if keep := p.keep - len(p.cur.body); keep > 0 {
				p.cur.body = append(p.cur.body, data[:min(n, keep)]...)
			}
			p.remain -= n
			data = data[n:]
			if p.remain == 0 {
				p.inBody = false
				emit(p.cur)
			}
			continue
		}
		hdrLen := 5
		if p.startup {
			hdrLen = 4
		}
		n := min(hdrLen-p.hdrN, len(data))
		copy(p.hdr[p.hdrN:], data[:n])
		p.hdrN += n
		data = data[n:]
		if p.hdrN < hdrLen {
			continue
		}
		p.hdrN = 0
		if p.startup {
			p.startup = false // an SSLRequest sets it again
			length := int(binary.BigEndian.Uint32(p.hdr[:4]))
			p.cur = message{startup: true, length: length - 4}
		} else {
			length := int(binary.BigEndian.Uint32(p.hdr[1:5]))
			p.cur = message{typ: p.hdr[0], length: length - 4}
		}
		if p.cur.length < 0 {
			p.opaque = true // not the PostgreSQL protocol; stop counting
			return
		}
		p.remain = p.cur.length
		if p.remain == 0 {
			emit(p.cur)
			continue
		}
		p.inBody = true
	}
}

// stats are the proxy's counters, over all connections since it started.
type stats struct {
	mu             sync.Mutex
	ConnsOpened    int64 `json:"conns_opened"`
	ConnsClosed    int64 `json:"conns_closed"`
	Startups       int64 `json:"startups"`
	CancelRequests int64 `json:"cancel_requests"`
	// RoundTrips counts, after a connection's start-up, each time the
	// server sends something after the client last did: one request→
	// response turnaround.
	RoundTrips int64 `json:"round_trips"`
	// ClientBursts counts, after start-up, each time the client sends
	// after the server last did (or first): client messages sent without
	// waiting in between count as one burst.
	ClientBursts  int64            `json:"client_bursts"`
	ClientMsgs    map[string]int64 `json:"client_msgs"` // frontend messages after start-up, by type byte
	ServerMsgs    map[string]int64 `json:"server_msgs"` // backend messages after start-up, by type byte
	BytesToServer int64            `json:"bytes_to_server"`
	BytesToClient int64            `json:"bytes_to_client"`
}

func newStats() *stats {
	return &stats{ClientMsgs: map[string]int64{}, ServerMsgs: map[string]int64{}}
}

// snapshot copies the counters.
func (s *stats) snapshot() *stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &stats{
		ConnsOpened: s.ConnsOpened, ConnsClosed: s.ConnsClosed, Startups: s.Startups,
		CancelRequests: s.CancelRequests, RoundTrips: s.RoundTrips, ClientBursts: s.ClientBursts,
		BytesToServer: s.BytesToServer, BytesToClient: s.BytesToClient,
		ClientMsgs: make(map[string]int64), ServerMsgs: make(map[string]int64),
	}
	for k, v := range s.ClientMsgs {
		c.ClientMsgs[k] = v
	}
	for k, v := range s.ServerMsgs {
		c.ServerMsgs[k] = v
	}
	return c
}
