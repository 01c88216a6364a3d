package main

// The layout ARCHITECTURE.md describes: one job per file, files and
// functions small enough to read, and every file on the map.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Limits a newcomer can read: a file on a few screens, a function on one.
const (
	maxFileLines     = 500
	maxFunctionLines = 60
)

// TestLayout: every non-test Go file is at most maxFileLines long, every
// function in it at most maxFunctionLines, and ARCHITECTURE.md's code map
// names the file.
func TestLayout(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	architecture := readFile(t, "ARCHITECTURE.md")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(src), "\n"); n > maxFileLines {
			t.Errorf("%s has %d lines, more than %d: split it by job", name, n, maxFileLines)
		}
		if !strings.Contains(architecture, "`"+name+"`") {
			t.Errorf("ARCHITECTURE.md's code map does not name %s", name)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1; n > maxFunctionLines {
				t.Errorf("%s: %s has %d lines, more than %d", name, fn.Name.Name, n, maxFunctionLines)
			}
		}
	}
}
