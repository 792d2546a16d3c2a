package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestUsageNamesEveryCommand: 'deconflict --help' lists every command that
// Run dispatches (read from main.go, so a new command cannot be left out),
// and the subcommands users look for there.
func TestUsageNamesEveryCommand(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "Run" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if c, ok := n.(*ast.CaseClause); ok {
				for _, e := range c.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, _ := strconv.Unquote(lit.Value); !strings.HasPrefix(s, "-") && s != "help" {
							commands = append(commands, s)
						}
					}
				}
			}
			return true
		})
		return false
	})
	if len(commands) < 5 {
		t.Fatalf("found only the commands %v in main.go's Run", commands)
	}
	var out strings.Builder
	m := &Main{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	if code := m.Run(t.Context(), []string{"--help"}); code != 0 {
		t.Fatalf("--help exited with %d", code)
	}
	for _, c := range append(commands, "party key", "token revoke") {
		if !strings.Contains(out.String(), "deconflict "+c+" ") {
			t.Errorf("--help does not list %q:\n%s", c, out.String())
		}
	}
}
