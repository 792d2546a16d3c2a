package main

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the deconflict binary into a temporary directory.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "deconflict")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startBinary runs the built binary as a separate process and returns it,
// its base URL and its log; extra are more flags of serve.
func startBinary(t testing.TB, bin, store string, extra ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--store", store, "--rate-limit", "0"}, loopbackFlags...)
	cmd := exec.Command(bin, append(args, extra...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	log := &syncBuffer{eof: make(chan struct{})}
	go func() {
		defer close(log.eof)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, Address string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				addr <- line.Address
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a, log
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	return nil, "", nil
}

// TestCrashLosesNothingAcknowledged kills the server with SIGKILL in the
// middle of a load of declarations, restarts it, and checks that every
// declaration that was answered 2xx is there, and that the conflicts on
// disk are exactly the ones the surviving operations have.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t)
	s := &testServer{t: t, store: "sqlite:" + filepath.Join(dir, "d.db")}
	s.mustRun("party", "add", "alpha")
	s.mustRun("party", "add", "bravo")
	tokens := []string{s.token("operator", "alpha"), s.token("operator", "bravo")}
	obs := s.token("observer", "alpha")
	cmd, base, _ := startBinary(t, bin, s.store)
	s.base = base

	rng := rand.New(rand.NewPCG(testSeed(t), 11))
	bodies := make([]map[string]any, 4000)
	for i := range bodies {
		bodies[i] = randomDeclaration(rng)
	}
	var (
		mu    sync.Mutex
		acked = map[string]int{} // id → party index
		next  int
		wg    sync.WaitGroup
	)
	client := &testServer{t: t, base: base}
	stop := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(bodies) {
					return
				}
				id, party := newID(), i%2
				status, ok := client.tryPut(id, tokens[party], bodies[i])
				if !ok {
					return // the server is gone
				}
				if status/100 == 2 {
					mu.Lock()
					acked[id] = party
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	_ = cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("no declaration was acknowledged before the kill")
	}

	var log *syncBuffer
	cmd, s.base, log = startBinary(t, bin, s.store)
	// The index snapshot saved at the first start is read, and the
	// operations declared after it applied.
	if l := log.String(); !strings.Contains(l, `"from":"snapshot"`) || strings.Contains(l, `"changed_since":0,`) {
		t.Fatalf("the restart after the crash did not start from the snapshot and the changes since:\n%s", l)
	}
	for id := range acked {
		r := s.do("GET", "/v1/operations/"+id, obs, nil)
		if r.status != 200 {
			t.Fatalf("acknowledged operation %s lost after the crash: %d %s", id, r.status, r.raw)
		}
	}
	// Every stored conflict joins two stored operations, and after the
	// restart a new declaration still finds conflicts with old ones.
	confs := allConflicts(t, s, obs, "")
	for _, c := range confs {
		for _, op := range jsonPath(c, "operations").([]any) {
			s.do("GET", "/v1/operations/"+op.(string), obs, nil).want(t, 200)
		}
	}
	var probe map[string]any
	for id := range acked {
		probe = s.do("GET", "/v1/operations/"+id, obs, nil).obj("operation")
		break
	}
	party := probe["party"].(string)
	other := tokens[0]
	if party == "alpha" {
		other = tokens[1]
	}
	r := s.do("PUT", "/v1/operations/"+newID(), other, map[string]any{"volumes": probe["volumes"]}).want(t, 201)
	if len(r.list("conflicts")) == 0 {
		t.Fatal("after the restart, a copy of a stored operation conflicts with nothing")
	}

	// A clean stop saves the index; the next start reads it whole.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	<-log.eof
	if !strings.Contains(log.String(), `"msg":"index saved"`) {
		t.Fatalf("a clean stop saved no index snapshot:\n%s", log.String())
	}
	_, s.base, log = startBinary(t, bin, s.store)
	if l := log.String(); !strings.Contains(l, `"from":"snapshot"`) || !strings.Contains(l, `"changed_since":0,`) {
		t.Fatalf("the start after a clean stop did not read the snapshot alone:\n%s", l)
	}
	r = s.do("PUT", "/v1/operations/"+newID(), other, map[string]any{"volumes": probe["volumes"]}).want(t, 201)
	found := false
	for _, c := range r.list("conflicts") {
		for _, op := range jsonPath(c, "operations").([]any) {
			found = found || op == probe["id"]
		}
	}
	if !found {
		t.Fatalf("after a clean restart, a copy of stored operation %v does not conflict with it: %s", probe["id"], r.raw)
	}
	t.Logf("%d declarations acknowledged before SIGKILL, all present after restart; %d conflicts", len(acked), len(confs))
}

// tryPut declares an operation and reports the status, or false if the
// server could not be reached.
func (s *testServer) tryPut(id, token string, body map[string]any) (int, bool) {
	raw, _ := json.Marshal(body)
	req, _ := newRequest("PUT", s.base+"/v1/operations/"+id, raw, token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	return resp.StatusCode, true
}
