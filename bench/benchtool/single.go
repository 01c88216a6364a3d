package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
)

// proxyStats is what delayproxy's GET /stats answers.
type proxyStats struct {
	ConnsOpened    int64            `json:"conns_opened"`
	CancelRequests int64            `json:"cancel_requests"`
	RoundTrips     int64            `json:"round_trips"`
	ClientBursts   int64            `json:"client_bursts"`
	ClientMsgs     map[string]int64 `json:"client_msgs"`
	ServerMsgs     map[string]int64 `json:"server_msgs"`
}

// cmdSingle sends -n requests of one endpoint one after the other (one
// client, one connection) and reports their latency and, with -stats, what
// went over the wire to PostgreSQL per request, from the delay proxy's
// counters before and after. Warm-up requests come first so the service's
// pool holds an open connection and nothing of start-up is counted.
func cmdSingle(args []string) error {
	fs := flag.NewFlagSet("single", flag.ExitOnError)
	base := fs.String("url", "", "service base URL (the instance behind the proxy)")
	statsURL := fs.String("stats", "", "delayproxy stats URL (http://ADDR/stats); empty: latency only")
	endpoint := fs.String("endpoint", "get", "get|create|list|list-small|toggle|update|delete")
	n := fs.Int("n", 200, "measured requests")
	warm := fs.Int("warmup", 20, "requests before measuring")
	poolPath := fs.String("pool", "pool.tsv", "seeded pool (user_id<TAB>task_id)")
	listUser := fs.String("list-user", "list-1000", "user with the long list")
	createBody := fs.String("create-body", `{"title":"Buy groceries","description":"Milk, eggs, bread"}`, "POST body")
	updateBody := fs.String("update-body", `{"title":"Buy groceries and bread","is_completed":true}`, "PUT body")
	fs.Parse(args)

	users, ids, err := readPool(*poolPath)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	pick := func() (string, string) {
		i := rnd.IntN(len(ids))
		return users[i], ids[i]
	}
	var toDelete []string // ids made for the delete pass, used in order
	if *endpoint == "delete" {
		for range *warm + *n {
			id, err := createTask(client, *base, "single-delete", *createBody)
			if err != nil {
				return err
			}
			toDelete = append(toDelete, id)
		}
	}
	request := func() (*http.Request, error) {
		switch *endpoint {
		case "get":
			u, id := pick()
			return http.NewRequest("GET", *base+"/api/"+u+"/tasks/"+id, nil)
		case "toggle":
			u, id := pick()
			return http.NewRequest("PATCH", *base+"/api/"+u+"/tasks/"+id+"/complete", nil)
		case "update":
			u, id := pick()
			return http.NewRequest("PUT", *base+"/api/"+u+"/tasks/"+id, strings.NewReader(*updateBody))
		case "create":
			return http.NewRequest("POST", *base+"/api/single-create/tasks", strings.NewReader(*createBody))
		case "list":
			return http.NewRequest("GET", *base+"/api/"+*listUser+"/tasks", nil)
		case "list-small":
			u, _ := pick()
			return http.NewRequest("GET", *base+"/api/"+u+"/tasks", nil)
		case "delete":
			id := toDelete[0]
			toDelete = toDelete[1:]
			return http.NewRequest("DELETE", *base+"/api/single-delete/tasks/"+id, nil)
		}
		return nil, fmt.Errorf("unknown endpoint %q", *endpoint)
	}
	do := func() (time.Duration, bool, error) {
		req, err := request()
		if err != nil {
			return 0, false, err
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, false, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start), resp.StatusCode < 300, err
	}

	for range *warm {
		if _, _, err := do(); err != nil {
			return err
		}
	}
	var before, after proxyStats
	if *statsURL != "" {
		if err := getJSON(*statsURL, &before); err != nil {
			return err
		}
	}
	lat := make([]time.Duration, 0, *n)
	bad := 0
	for range *n {
		d, ok, err := do()
		if err != nil {
			return err
		}
		if !ok {
			bad++
		}
		lat = append(lat, d)
	}
	if *statsURL != "" {
		if err := getJSON(*statsURL, &after); err != nil {
			return err
		}
	}
	slices.Sort(lat)
	q := func(p float64) string {
		return fmt.Sprintf("%.3f", float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())/1000)
	}
	fmt.Printf("SINGLE endpoint=%s n=%d p50_ms=%s p90_ms=%s p99_ms=%s errors=%d", *endpoint, *n, q(0.5), q(0.9), q(0.99), bad)
	if *statsURL != "" {
		per := func(v int64) string { return fmt.Sprintf("%.2f", float64(v)/float64(*n)) }
		fmt.Printf(" rt_per_req=%s bursts_per_req=%s conns_opened=%d cancels=%d client_msgs=%s server_msgs=%s",
			per(after.RoundTrips-before.RoundTrips), per(after.ClientBursts-before.ClientBursts),
			after.ConnsOpened-before.ConnsOpened, after.CancelRequests-before.CancelRequests,
			perType(before.ClientMsgs, after.ClientMsgs, *n, "PBDESCQHX"),
			perType(before.ServerMsgs, after.ServerMsgs, *n, "12tTnDCsZNIE3"))
	}
	fmt.Println()
	return nil
}

// perType renders message counts per request in protocol order, e.g.
// "P,B,D,E,S" or "1,2,T,D*1000,C,Z"; a type seen other than once per
// request gets its count ("D*0.50").
func perType(before, after map[string]int64, n int, order string) string {
	var parts []string
	seen := map[string]bool{}
	add := func(k string) {
		if seen[k] {
			return
		}
		seen[k] = true
		d := after[k] - before[k]
		if d == 0 {
			return
		}
		v := float64(d) / float64(n)
		switch {
		case d == int64(n):
			parts = append(parts, k)
		case v == float64(int64(v)):
			parts = append(parts, fmt.Sprintf("%s*%d", k, int64(v)))
		default:
			parts = append(parts, fmt.Sprintf("%s*%.2f", k, v))
		}
	}
	for _, r := range order {
		add(string(r))
	}
	keys := make([]string, 0, len(after))
	for k := range after {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(k)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
