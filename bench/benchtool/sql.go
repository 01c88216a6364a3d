package main

// The pgbench side of the benchmark: the service's SQL, read from postgres.go
// so that the ceiling always runs the statements the service runs, turned
// into pgbench scripts that do the same work per transaction as the service
// does per request.
//
// One statement per transaction, and how the ids get there. pgbench can only
// make numbers (\set), and a task id is a UUID, so it cannot make the ids
// itself; looking one up with a second statement per transaction would
// double the database's work and halve the ceiling. Instead:
//
//   - get, toggle, update, list of a small user: run.sh links the seeded
//     pool into one cycle per user, each task's description holding the id of
//     the next task of the same user (service requests never change a pool
//     task's description). Each script ends its statement with \gset, so the
//     returned row's description becomes the id of the next transaction:
//     every transaction is exactly the service's statement and nothing else.
//     A client finds its start (a random pool task) with one extra SELECT in
//     its first transaction only.
//   - create: every INSERT needs a fresh id. run.sh fills a table
//     bench_fresh with version-7-style ids (time-ordered, as the service
//     makes them, so the primary key grows at its right-hand end the same
//     way), freshK per row; a client fetches a row with \gset once every
//     freshK transactions and uses one of its ids per INSERT, picked with
//     \if on a counter. That is one extra SELECT per freshK INSERTs (1.6% at
//     64), which makes the create ceiling lower than the truth by about that
//     much; run.sh says so. With -M prepared each branch is a statement of
//     its own, so each client also prepares freshK INSERTs once; fewer
//     branches would mean more SELECTs, and 64 keeps the sum small for runs
//     of 10 s.
//   - list of 1,000: the statement with a constant user (-D).
//
// pgbench sends :name variables as $1, $2, … in order of appearance, as text
// parameters with types left to the server, and asks for text results: the
// same as lib/pq with binary_parameters. Where postgres.go numbers its
// parameters in order of appearance (all but update), the text the server
// parses is byte for byte the service's (checked with delayproxy -log, which
// logs each Parse's length and hash); update's differs only in the
// numbering. -M extended sends Parse/Bind/Describe/Execute/Sync per
// statement like the service; -M prepared parses each statement once per
// connection.

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// freshK is how many fresh ids one bench_fresh row holds.
const freshK = 64

// cmdSQL prints one string constant of the source file.
func cmdSQL(args []string) error {
	fs := flag.NewFlagSet("sql", flag.ExitOnError)
	src := fs.String("src", ".", "Go file or package directory that defines the SQL constants")
	name := fs.String("name", "", "constant to print")
	fs.Parse(args)
	consts, err := loadConsts(*src)
	if err != nil {
		return err
	}
	q, err := consts.get(*name)
	if err != nil {
		return err
	}
	fmt.Println(q)
	return nil
}

// script is one pgbench script: which constant it runs, and which pgbench
// variable stands for each $n parameter.
type script struct {
	file   string
	konst  string
	params []string // params[i] is the variable for $(i+1)
	end    string   // what ends the statement (see below)
	chain  bool     // needs the per-client start of the id cycle
}

// Every statement ends in a meta-command written right after its last
// character: a ";" or a space would be sent to the server as part of the
// text, and the text is meant to be postgres.go's to the byte. (Except after a
// variable; see renderScript.) \gset (one row
// expected) with no prefix is what carries the id cycle: the row's
// description becomes the next id. The others use a prefix, so they leave
// the cycle's variables alone (in the mix, all scripts share a client's
// variables); \aset keeps the last row of a list and is content with any
// number of rows. pgbench reads the rows in all cases, as the service does.
var scripts = []script{
	{file: "get.sql", konst: "getTaskSQL", params: []string{"user_id", "description"}, end: `\gset`, chain: true},
	{file: "toggle.sql", konst: "toggleTaskSQL", params: []string{"user_id", "description", "NULL"}, end: `\gset`, chain: true},
	{file: "update.sql", konst: "updateTaskSQL", params: []string{"user_id", "description", "NULL", "newtitle", "setdesc", "newdesc", "newdone"}, end: `\gset`, chain: true},
	{file: "list.sql", konst: "listAllTasksSQL", params: []string{"listuser", "1001"}, end: `\aset l_`},
	{file: "listsmall.sql", konst: "listAllTasksSQL", params: []string{"user_id", "1001"}, end: `\aset l_`, chain: true},
	{file: "create.sql", konst: "createTaskSQL", params: []string{"FRESH", "cuser", "ctitle", "cdesc", "0"}, end: `\gset c_`},
}

// chainStart is run once per client: a random pool task to start the cycle.
const chainStart = `\if :chain = 0
\set r random(1, :poolsize)
SELECT t.user_id, t.description FROM bench_pool p JOIN task t ON t.id = p.id WHERE p.n = :r \gset
\set chain 1
\endif
`

// cmdPgbenchScripts writes the scripts and fresh.sql (the bench_fresh table)
// into -dir, and prints for each script whether pgbench sends the very text
// the service sends.
func cmdPgbenchScripts(args []string) error {
	fs := flag.NewFlagSet("pgbench-scripts", flag.ExitOnError)
	src := fs.String("src", ".", "Go file or package directory that defines the SQL constants")
	dir := fs.String("dir", ".", "directory to write the scripts to")
	fs.Parse(args)
	consts, err := loadConsts(*src)
	if err != nil {
		return err
	}
	for _, s := range scripts {
		q, err := consts.get(s.konst)
		if err != nil {
			return err
		}
		body, how, err := renderScript(s, q)
		if err != nil {
			return fmt.Errorf("%s: %w", s.konst, err)
		}
		if err := os.WriteFile(filepath.Join(*dir, s.file), []byte(body), 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %s, %s\n", s.file, s.konst, how)
	}
	return os.WriteFile(filepath.Join(*dir, "fresh.sql"), []byte(freshSQL()), 0o644)
}

var (
	placeholder = regexp.MustCompile(`\$([0-9]+)`)
	endsInParam = regexp.MustCompile(`\$[0-9]+$`)
)

// renderScript writes the pgbench script for s. how says whether the text
// pgbench will send (after renumbering :vars to $1, $2, …) is the service's
// text, and if not, how it differs.
func renderScript(s script, q string) (body, how string, err error) {
	used := map[int]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(q, -1) {
		n, _ := strconv.Atoi(m[1])
		used[n] = true
	}
	if len(used) != len(s.params) {
		return "", "", fmt.Errorf("uses %d parameters, the pgbench script knows %d: update bench/benchtool/sql.go", len(used), len(s.params))
	}
	for n := range used {
		if n < 1 || n > len(s.params) {
			return "", "", fmt.Errorf("parameter $%d out of range", n)
		}
	}
	// What pgbench will send: each :var becomes the next $n.
	next := 0
	sent := placeholder.ReplaceAllStringFunc(q, func(string) string {
		next++
		return "$" + strconv.Itoa(next)
	})
	var diffs []string
	if slices.ContainsFunc(s.params, isNumber) {
		// The list's LIMIT (a page and its look-ahead task) and the task
		// limit are constants of the service; written as numbers here.
		diffs = append(diffs, "numbers written where the service sends them as parameters")
		sent = q
	}
	if slices.Contains(s.params, "NULL") {
		// pgbench cannot send a NULL parameter; the service sends NULL for
		// "no precondition" and "no limit", so the literal stands in.
		diffs = append(diffs, "NULL written where the service sends a NULL parameter")
		sent = q
	}
	if sent != q {
		diffs = append(diffs, "parameters renumbered by pgbench")
	}
	end := s.end + "\n"
	if endsInParam.MatchString(q) {
		// pgbench 15 garbles a variable that touches the meta-command
		// after it (it sent "$2^\x05"), so one space it is.
		end = " " + end
		diffs = append(diffs, "plus a trailing space")
	}
	how = "verbatim"
	if len(diffs) > 0 {
		how = strings.Join(diffs, ", ")
	}

	stmt := func(freshVar string) string {
		return placeholder.ReplaceAllStringFunc(q, func(m string) string {
			n, _ := strconv.Atoi(m[1:])
			v := s.params[n-1]
			switch v {
			case "FRESH":
				v = freshVar
			case "NULL":
				return "NULL"
			}
			if isNumber(v) {
				return v
			}
			return ":" + v
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s from postgres.go, %s (generated by bench/benchtool; see sql.go)\n", s.konst, how)
	if s.chain {
		b.WriteString(chainStart)
	}
	if s.file != "create.sql" {
		b.WriteString(stmt("") + end)
		return b.String(), how, nil
	}
	// create: see the file comment.
	cols := make([]string, freshK)
	for i := range cols {
		cols[i] = fmt.Sprintf("f%d", i+1)
	}
	fmt.Fprintf(&b, `\if :k = 0
\set row :client_id + :nclients * :blk
SELECT cuser, %s FROM bench_fresh WHERE n = :row \gset
\set blk :blk + 1
\endif
\set k :k + 1
`, strings.Join(cols, ", "))
	// The INSERT with the k-th fresh id; after the last one, k starts over
	// (and the next transaction fetches a new row).
	for i := 1; i < freshK; i++ {
		kw := `\elif`
		if i == 1 {
			kw = `\if`
		}
		fmt.Fprintf(&b, "%s :k = %d\n%s%s", kw, i, stmt(fmt.Sprintf("f%d", i)), end)
	}
	fmt.Fprintf(&b, "\\else\n%s%s\\set k 0\n\\endif\n", stmt(fmt.Sprintf("f%d", freshK)), end)
	return b.String(), how, nil
}

// freshSQL makes bench_fresh: psql -v rows=N, freshK version-7-style ids per
// row, about 50 per millisecond from now on, so they sort in the order the
// clients use them, as the service's ids sort in the order it makes them.
func freshSQL() string {
	cols := make([]string, freshK)
	for i := range cols {
		cols[i] = fmt.Sprintf("bench_uuid7(base + (n * %d + %d) / 50) AS f%d", freshK, i, i+1)
	}
	return fmt.Sprintf(`DROP TABLE IF EXISTS bench_fresh;
CREATE TABLE bench_fresh AS
SELECT n, 'create-' || lpad((n %% 16)::text, 2, '0') AS cuser,
       %s
FROM generate_series(0, :rows - 1) AS n,
     (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS base) AS b;
ALTER TABLE bench_fresh ADD PRIMARY KEY (n);
`, strings.Join(cols, ",\n       "))
}

// consts holds the unevaluated constant expressions of a file.
type consts map[string]ast.Expr

// loadConsts parses the Go file at path, or every non-test Go file of the
// directory at path, and keeps their constants.
func loadConsts(path string) (consts, error) {
	files := []string{path}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.go"))
	}
	c := consts{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		if err := c.parse(name); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parse adds the constants of one file.
func (c consts) parse(path string) error {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return err
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					c[n.Name] = vs.Values[i]
				}
			}
		}
	}
	return nil
}

// get evaluates the string constant name: literals, other constants and +.
func (c consts) get(name string) (string, error) {
	e, ok := c[name]
	if !ok {
		names := make([]string, 0, len(c))
		for n := range c {
			if strings.HasSuffix(n, "SQL") {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		return "", fmt.Errorf("no constant %s (SQL constants found: %s)", name, strings.Join(names, ", "))
	}
	return c.eval(e, 0)
}

func (c consts) eval(e ast.Expr, depth int) (string, error) {
	if depth > 50 {
		return "", errors.New("constants nest too deep")
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", fmt.Errorf("not a string: %s", e.Value)
		}
		return strconv.Unquote(e.Value)
	case *ast.Ident:
		ref, ok := c[e.Name]
		if !ok {
			return "", fmt.Errorf("unknown constant %s", e.Name)
		}
		return c.eval(ref, depth+1)
	case *ast.ParenExpr:
		return c.eval(e.X, depth+1)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", fmt.Errorf("unsupported operator %s", e.Op)
		}
		l, err := c.eval(e.X, depth+1)
		if err != nil {
			return "", err
		}
		r, err := c.eval(e.Y, depth+1)
		if err != nil {
			return "", err
		}
		return l + r, nil
	}
	return "", fmt.Errorf("unsupported expression %T", e)
}

// isNumber reports whether a script parameter is a number written as is.
func isNumber(v string) bool {
	_, err := strconv.Atoi(v)
	return err == nil
}
