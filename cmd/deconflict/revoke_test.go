package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
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
		tok, id := issueOperatorToken(t, s, label)
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

// TestTokenRevokedByAnotherProcessUnderLoad revokes token after token with
// `deconflict token revoke` in another process while clients keep
// checking with the token: no check sent after the command returned is
// answered with anything but 401, the first included.
func TestTokenRevokedByAnotherProcessUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process a round")
	}
	// No 429 for the clients' many refused checks: each must be a 401.
	s := startServerWith(t, testStore(t), append(loopbackFlags, "--auth-fail-limit", "0")...)
	body, err := json.Marshal(map[string]any{"volumes": []any{circle(1, 1, 1000, 0, 100, at(1), at(2))}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(tok string) (int, error) {
		req, err := http.NewRequest("POST", s.base+"/v1/check", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
	const rounds, clients = 50, 4
	for round := range rounds {
		label := fmt.Sprintf("load-%d", round)
		tok, id := issueOperatorToken(t, s, label)
		var revoked, stop atomic.Bool
		var after atomic.Int64 // checks sent after the revocation returned
		errs := make(chan error, clients)
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for !stop.Load() {
					sentAfter := revoked.Load()
					code, err := check(tok)
					switch {
					case err != nil:
						errs <- err
						return
					case sentAfter && code != 401:
						errs <- fmt.Errorf("a check sent after the revocation returned was answered %d", code)
						return
					case !sentAfter && code != 200 && code != 401:
						errs <- fmt.Errorf("a check was answered %d", code)
						return
					}
					if sentAfter {
						after.Add(1)
					}
				}
			})
		}
		// The clients are under way, the token trusted.
		for range 3 {
			if code, err := check(tok); code != 200 || err != nil {
				t.Fatalf("round %d: a check with the token before its revocation: %d, %v", round, code, err)
			}
		}
		s.runProcess("token", "revoke", id)
		revoked.Store(true)
		code, err := check(tok)
		// The clients go on meanwhile, until each has likely sent one
		// after the revocation, or failed.
		for i := 0; err == nil && after.Load() < 2*clients && len(errs) == 0 && i < 1000; i++ {
			_, err = check(tok)
		}
		stop.Store(true)
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatalf("round %d: %v", round, e)
		}
		if err != nil || code != 401 {
			t.Fatalf("round %d: the first check after the revocation returned: %d, %v; want 401", round, code, err)
		}
	}
}

// issueOperatorToken issues an operator token of alpha's labelled label
// with the CLI and returns it with its ID, as token list shows it.
func issueOperatorToken(t *testing.T, s *testServer, label string) (tok, id string) {
	t.Helper()
	tok = strings.TrimSpace(s.mustRun("token", "issue", "--role", "operator", "--party", "alpha", "--label", label))
	for _, line := range strings.Split(s.mustRun("token", "list"), "\n") {
		if strings.Contains(line, label) {
			id = strings.Fields(line)[0]
		}
	}
	if id == "" {
		t.Fatalf("token list does not show the token labelled %s", label)
	}
	return tok, id
}
