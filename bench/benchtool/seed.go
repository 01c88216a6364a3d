package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// cmdSeed creates the benchmark's tasks through the API: a pool of
// -pool-users users (PREFIXpool-000, …) with -pool-tasks tasks each (get, toggle, update and the
// small lists), and one user with exactly -list-tasks tasks. It writes the
// pool as "user_id<TAB>task_id" lines to DIR/pool.tsv.
func cmdSeed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	base := fs.String("url", "", "service base URL")
	out := fs.String("out", ".", "directory for pool.tsv")
	poolUsers := fs.Int("pool-users", 50, "users in the pool")
	poolTasks := fs.Int("pool-tasks", 20, "tasks per pool user")
	prefix := fs.String("prefix", "", "prefix of the pool users' ids")
	listUser := fs.String("list-user", "list-1000", "user for the big list")
	listTasks := fs.Int("list-tasks", 1000, "tasks of the list user")
	workers := fs.Int("workers", 8, "requests in parallel")
	fs.Parse(args)

	type job struct {
		user, body string
		pool       bool
	}
	jobs := make(chan job)
	go func() {
		defer close(jobs)
		for i := range *listTasks {
			body := fmt.Sprintf(`{"title":"Task %d of the long list","description":"Milk, eggs, bread"}`, i)
			if i%2 == 1 {
				body = fmt.Sprintf(`{"title":"Task %d of the long list"}`, i)
			}
			jobs <- job{user: *listUser, body: body}
		}
		for t := range *poolTasks {
			for u := range *poolUsers {
				// The description is replaced by run.sh (the pgbench id cycle).
				jobs <- job{user: fmt.Sprintf("%spool-%03d", *prefix, u), body: fmt.Sprintf(`{"title":"Pool task %d","description":"-"}`, t), pool: true}
			}
		}
	}()

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *workers}}
	var (
		mu    sync.Mutex
		pool  []string
		first error
		wg    sync.WaitGroup
	)
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				id, err := createTask(client, *base, j.user, j.body)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil && j.pool {
					pool = append(pool, j.user+"\t"+id)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	f, err := os.Create(filepath.Join(*out, "pool.tsv"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, line := range pool {
		fmt.Fprintln(w, line)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("SEED pool=%d list_user=%s list_tasks=%d\n", len(pool), *listUser, *listTasks)
	return nil
}

// createTask POSTs one task and returns its id.
func createTask(client *http.Client, base, user, body string) (string, error) {
	resp, err := client.Post(base+"/api/"+user+"/tasks", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /api/%s/tasks: %s: %s", user, resp.Status, bytes.TrimSpace(b))
	}
	var t struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &t); err != nil || t.ID == "" {
		return "", errors.New("POST answered 201 without an id")
	}
	return t.ID, nil
}

// readPool reads pool.tsv.
func readPool(path string) (users, ids []string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		u, id, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		users, ids = append(users, u), append(ids, id)
	}
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("%s is empty", path)
	}
	return users, ids, nil
}
