package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// cliEnv makes a copy of the test binary run one deconflict command (its
// arguments separated by newlines) and exit with its status: the CLI as
// a process of its own, as an operator runs it beside a server.
const cliEnv = "DECONFLICT_TEST_CLI"

// TestHelperCLI is what the copies run; it does nothing in a normal test
// run.
func TestHelperCLI(t *testing.T) {
	spec := os.Getenv(cliEnv)
	if spec == "" {
		t.Skip("run by tests that need the CLI in another process")
	}
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(m.Run(context.Background(), strings.Split(spec, "\n")))
}

// runProcess runs a deconflict command on the server's store in another
// process.
func (s *testServer) runProcess(args ...string) string {
	s.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCLI$", "-test.count=1")
	cmd.Env = append(os.Environ(), cliEnv+"="+strings.Join(args, "\n"), "DECONFLICT_STORE="+s.store)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("deconflict %v in another process: %v: %s", args, err, errs.String())
	}
	return out.String()
}

// TestTokenRevokedByAnotherProcess checks that a token revoked by
// `deconflict token revoke` in another process is refused by a running
// server on the very next request, however often the server has just
// let it through, while other tokens go on working.
func TestTokenRevokedByAnotherProcess(t *testing.T) {
	s := startServer(t)
	keep := s.token("observer", "bravo")
	for round := range 3 {
		label := fmt.Sprintf("round-%d", round)
		tok := strings.TrimSpace(s.mustRun("token", "issue", "--role", "operator", "--party", "alpha", "--label", label))
		var id string
		for _, line := range strings.Split(s.mustRun("token", "list"), "\n") {
			if strings.Contains(line, label) {
				id = strings.Fields(line)[0]
			}
		}
		if id == "" {
			t.Fatalf("token list does not show the token labelled %s", label)
		}
		// Let the server trust the token: it has it cached, and has seen
		// nothing committed since.
		for range 5 {
			s.do("GET", "/v1/whoami", tok, nil).want(t, 200)
			s.do("POST", "/v1/check", tok, map[string]any{"volumes": []any{circle(1, 1, 1000, 0, 100, at(1), at(2))}}).want(t, 200)
		}
		s.runProcess("token", "revoke", id)
		s.do("GET", "/v1/whoami", tok, nil).want(t, 401, "unauthenticated")
		s.do("POST", "/v1/check", tok, map[string]any{"volumes": []any{circle(1, 1, 1000, 0, 100, at(1), at(2))}}).want(t, 401, "unauthenticated")
		s.do("GET", "/v1/whoami", keep, nil).want(t, 200)
	}
}
