package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cmdCPU measures, from its start until it receives SIGTERM or SIGINT, the
// CPU time (user+system, from
// /proc/PID/stat) of:
//
//   - svc: the service process (-svc PID; all its threads);
//   - pg: the PostgreSQL backends connected to database -db, including the
//     autovacuum workers there (other databases' backends are left out, so
//     other people's tests on the same server do not count);
//   - pgaux: the postmaster and PostgreSQL's shared background processes
//     (WAL writer, checkpointer, background writer, …);
//   - busy: the whole machine, from /proc/stat;
//
// and prints them in seconds with the wall time. A backend that exits (as
// pgbench's do when it ends) is counted up to the last sample, so it samples
// every -interval; what is lost is at most one interval of the last moments
// of a run, when the load generator has stopped.
func cmdCPU(args []string) error {
	fs := flag.NewFlagSet("cpu", flag.ExitOnError)
	svc := fs.Int("svc", 0, "service PID (0: none)")
	db := fs.String("db", "", "database whose backends count as pg")
	interval := fs.Duration("interval", 100*time.Millisecond, "sampling interval")
	fs.Parse(args)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	m := &cpuMeter{svc: *svc, db: *db, procs: map[int]*procCPU{}}
	start := time.Now()
	busy0, _ := machineBusy()
	m.sample(true)
	fmt.Println("CPU ready") // the caller starts its load after this line
	t := time.NewTicker(*interval)
	defer t.Stop()
loop:
	for {
		select {
		case <-t.C:
			m.sample(false)
		case <-stop:
			break loop
		}
	}
	m.sample(false)
	busy1, _ := machineBusy()
	wall := time.Since(start).Seconds()
	sums := map[string]float64{}
	for _, p := range m.procs {
		sums[p.class] += float64(p.last-p.first) / clockTicks
	}
	fmt.Printf("CPU wall_s=%.3f svc_s=%.3f pg_s=%.3f pgaux_s=%.3f busy_s=%.3f\n",
		wall, sums["svc"], sums["pg"], sums["pgaux"], float64(busy1-busy0)/clockTicks)
	return nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

// procCPU is one tracked process.
type procCPU struct {
	class       string // svc, pg or pgaux
	first, last int64  // utime+stime in ticks at first and last sight
}

// cpuMeter tracks the processes of interest between samples.
type cpuMeter struct {
	svc     int
	db      string
	procs   map[int]*procCPU
	ignored map[int]bool // pids looked at once and found of no interest
}

// sample reads the CPU time of every process of interest. On the first
// sample, processes already running start from their current time; later,
// new processes start from zero, since all their time falls in the window.
func (m *cpuMeter) sample(initial bool) {
	if m.ignored == nil {
		m.ignored = map[int]bool{}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || m.ignored[pid] {
			continue
		}
		if p := m.procs[pid]; p != nil {
			if ticks, ok := procTicks(pid); ok {
				p.last = ticks
			}
			continue
		}
		class, final := m.classify(pid)
		if class == "" {
			// A PostgreSQL process that does not show its title yet (just
			// forked) is looked at again next time; anything else never.
			m.ignored[pid] = final
			continue
		}
		ticks, ok := procTicks(pid)
		if !ok {
			continue
		}
		p := &procCPU{class: class, last: ticks}
		if initial {
			p.first = ticks
		}
		m.procs[pid] = p
	}
}

// classify says which group a process belongs to, or "" for none; final
// is false when the answer may change (a PostgreSQL process that has not
// set its title yet).
func (m *cpuMeter) classify(pid int) (class string, final bool) {
	if pid == m.svc {
		return "svc", true
	}
	s := cmdline(pid)
	switch {
	case strings.HasPrefix(s, "postgres: "):
		// Backends: "postgres: USER DB HOST(PORT) STATE"; autovacuum
		// workers: "postgres: 15/main: autovacuum worker DB".
		if m.db != "" && (strings.Contains(s, " "+m.db+" ") || strings.HasSuffix(s, " "+m.db)) {
			return "pg", true
		}
		for _, aux := range []string{"checkpointer", "background writer", "walwriter", "autovacuum launcher", "logical replication launcher", "archiver", "stats collector"} {
			if strings.Contains(s, aux) {
				return "pgaux", true
			}
		}
		return "", true // another database's backend
	case strings.Contains(s, "/bin/postgres"):
		// The postmaster, or a backend it has just forked that still
		// carries its command line.
		if !strings.Contains(cmdline(parentPID(pid)), "postgres") {
			return "pgaux", true // the postmaster: it forks each new backend
		}
		return "", false
	}
	return "", true
}

// cmdline reads a process's command line with spaces for NULs.
func cmdline(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

// parentPID reads a process's parent from /proc/PID/stat.
func parentPID(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// statFields returns the fields of /proc/PID/stat after the command name
// (which may contain spaces): f[0] is the state, field 3 of stat(5).
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// procTicks reads utime+stime of a process: fields 14 and 15 of stat(5).
func procTicks(pid int) (int64, bool) {
	f := statFields(pid)
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return u + s, true
}

// machineBusy reads the machine's non-idle CPU time from /proc/stat.
func machineBusy() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 {
		return 0, fmt.Errorf("unexpected /proc/stat: %q", line)
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return busy, nil
}
