package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fedNode is a federation node run as the built binary, in a process of
// its own, on a fixed loopback port (its descriptor names it) — or one
// replica of such a node, when several share a PostgreSQL store.
type fedNode struct {
	t      *testing.T
	bin    string
	store  string
	listen string
	cmd    *exec.Cmd
	logs   *syncBuffer // the process's log, as it runs
	srv    *testServer // for do and run: base and store
}

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// newFedNode makes a node hosting party on a SQLite store of its own.
func newFedNode(t *testing.T, bin, party string) *fedNode {
	return newFedNodeOn(t, bin, party, "sqlite:"+filepath.Join(t.TempDir(), party+".db"))
}

// newFedNodeOn makes a node hosting party on the store at url.
func newFedNodeOn(t *testing.T, bin, party, url string) *fedNode {
	n := &fedNode{t: t, bin: bin, store: url, listen: "127.0.0.1:" + freePort(t)}
	n.srv = &testServer{t: t, store: n.store, base: "http://" + n.listen}
	n.srv.mustRun("party", "add", party)
	return n
}

// replica returns another replica of the node: a server of its own, on
// its own port, over the same store.
func (n *fedNode) replica() *fedNode {
	r := &fedNode{t: n.t, bin: n.bin, store: n.store, listen: "127.0.0.1:" + freePort(n.t)}
	r.srv = &testServer{t: n.t, store: r.store, base: "http://" + r.listen}
	return r
}

// start runs the node's server process.
func (n *fedNode) start() {
	n.t.Helper()
	n.cmd = exec.Command(n.bin, "serve", "--listen", n.listen, "--store", n.store, "--rate-limit", "0")
	n.logs = &syncBuffer{}
	n.cmd.Stderr = n.logs
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	cmd := n.cmd
	n.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", n.listen); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("node on %s did not start", n.listen)
}

// kill ends the node's process with SIGKILL.
func (n *fedNode) kill() {
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
}

// stop ends the node's process with SIGTERM, as an operator stops a
// server, and waits until it has stopped.
func (n *fedNode) stop() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	if err := n.cmd.Wait(); err != nil {
		n.t.Errorf("node on %s stopped with %v:\n%s", n.listen, err, n.logs)
	}
}

// TestFederationCommands runs two nodes as separate processes, peered
// with the commands of contract section 13: bravo declares while alpha's
// node is killed with SIGKILL mid-replication and restarted; afterwards
// alpha holds every operation bravo answered 2xx for, the same conflicts
// under the same IDs, and `federation status` shows the link up.
func TestFederationCommands(t *testing.T) {
	bin := buildBinary(t)
	alpha, bravo := newFedNode(t, bin, "alpha"), newFedNode(t, bin, "bravo")
	da := strings.TrimSpace(alpha.srv.mustRun("federation", "init", "--url", "http://"+alpha.listen))
	db := strings.TrimSpace(bravo.srv.mustRun("federation", "init", "--url", "http://"+bravo.listen))
	if !strings.Contains(da, `"parties":["alpha"]`) || !strings.Contains(da, `"key":"`) || strings.Count(da, "\n") != 0 {
		t.Fatalf("federation init printed %q", da)
	}
	file := filepath.Join(t.TempDir(), "bravo.json")
	if err := os.WriteFile(file, []byte(db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	alpha.srv.mustRun("federation", "peer", "add", "@"+file)
	bravo.srv.mustRun("federation", "peer", "add", da)
	if out := alpha.srv.mustRun("federation", "peer", "list"); !strings.Contains(out, "bravo") || !strings.Contains(out, bravo.listen) {
		t.Errorf("peer list on alpha: %s", out)
	}
	if _, errs, code := alpha.srv.run("federation", "peer", "add", `{"parties":["x"],"url":"ftp://x","key":"k"}`); code == 0 || !strings.Contains(errs, "url") {
		t.Errorf("a bad descriptor: exit %d, %s", code, errs)
	}
	alpha.start()
	bravo.start()
	opA, opB := alpha.srv.token("operator", "alpha"), bravo.srv.token("operator", "bravo")
	obsA, obsB := alpha.srv.token("observer", "alpha"), bravo.srv.token("observer", "bravo")

	// alpha's own operations, which bravo's will meet.
	var alphaOps []string
	for i := range 5 {
		id := newID()
		alphaOps = append(alphaOps, id)
		alpha.srv.do("PUT", "/v1/operations/"+id, opA, decl("planned",
			circle(33.5, 36.3+float64(i)*0.05, 5000, 1000, 3000, time.Now().Add(2*time.Hour), time.Now().Add(4*time.Hour)))).want(t, 201)
	}
	var mu sync.Mutex
	var declared []string
	var wg sync.WaitGroup
	killed := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				id := newID()
				body := decl("planned", circle(33.4+float64(i%10)*0.02, 36.2+float64(w)*0.05, 3000, 500, 2500, time.Now().Add(2*time.Hour), time.Now().Add(3*time.Hour)))
				if status, _ := bravo.srv.tryPut(id, opB, body); status/100 == 2 {
					mu.Lock()
					declared = append(declared, id)
					if len(declared) == 60 {
						close(killed)
					}
					mu.Unlock()
				}
			}
		}()
	}
	<-killed
	alpha.kill() // mid-replication
	time.Sleep(300 * time.Millisecond)
	alpha.start()
	wg.Wait()

	deadline := time.Now().Add(60 * time.Second)
	for {
		r := alpha.srv.do("GET", "/v1/operations?party=bravo&limit=10000", obsA, nil).want(t, 200)
		peers := alpha.srv.do("GET", "/v1/federation", obsA, nil).want(t, 200).list("peers")
		up := len(peers) == 1 && jsonPath(peers, 0, "state") == "up" && jsonPath(peers, 0, "behind") == 0.0
		if len(r.list("operations")) == len(declared) && up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alpha holds %d of bravo's %d operations; peers %v", len(r.list("operations")), len(declared), peers)
		}
		time.Sleep(200 * time.Millisecond)
	}
	conflicts := func(s *testServer, tok string) map[string]string { return openConflictIDs(t, s, tok) }
	time.Sleep(time.Second) // bravo's node takes alpha's last receipts
	ca, cb := conflicts(alpha.srv, obsA), conflicts(bravo.srv, obsB)
	if len(ca) == 0 || len(ca) != len(cb) {
		t.Errorf("alpha holds %d open conflicts, bravo %d", len(ca), len(cb))
	}
	for pair, id := range ca {
		if cb[pair] != id {
			t.Errorf("conflict of %s: %s on alpha, %q on bravo", pair, id, cb[pair])
		}
	}
	// alpha's evidence of its first operation carries bravo's node's
	// signed receipt, which `deconflict verify` checks and prints.
	key := strings.TrimSpace(alpha.srv.mustRun("key", "show"))
	liaison := alpha.srv.token("liaison", "alpha")
	bundle := alpha.srv.do("GET", "/v1/evidence/operations/"+alphaOps[0], liaison, nil).want(t, 200)
	for deadline := time.Now().Add(15 * time.Second); !bytes.Contains(bundle.raw, []byte(`"witnessed"`)) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond) // bravo's node cosigns alpha's checkpoint one pull later
		bundle = alpha.srv.do("GET", "/v1/evidence/operations/"+alphaOps[0], liaison, nil).want(t, 200)
	}
	path := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(path, bundle.raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := alpha.srv.run("verify", path, "--key", key); code != 0 || !strings.Contains(out, "received by bravo's node at ") || !strings.Contains(out, "signed by bravo") || !strings.Contains(out, "lead time") {
		t.Errorf("verify: exit %d\n%s%s", code, out, errs)
	} else if !strings.Contains(out, "--node-key") {
		t.Errorf("verify without --node-key does not warn that the receipts' keys come from the author's log:\n%s", out)
	} else if !strings.Contains(out, "the entry received is entry ") {
		t.Errorf("verify does not say which entry of alpha's log bravo's node received:\n%s", out)
	}
	// bravo's own bundle of alpha's operation holds its receipt and the
	// copy of alpha's entry it names.
	bravoKey := strings.TrimSpace(bravo.srv.mustRun("key", "show"))
	bravoBundle := bravo.srv.do("GET", "/v1/evidence/operations/"+alphaOps[0], bravo.srv.token("liaison", "bravo"), nil).want(t, 200)
	bravoPath := filepath.Join(t.TempDir(), "bravo-bundle.json")
	if err := os.WriteFile(bravoPath, bravoBundle.raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := bravo.srv.run("verify", bravoPath, "--key", bravoKey); code != 0 || !strings.Contains(out, "of the author's log, copied here as entry ") {
		t.Errorf("verify of bravo's bundle of alpha's operation: exit %d\n%s%s", code, out, errs)
	}
	// alpha serves its checkpoint with bravo's cosignature line: a
	// party's witness, holding only alpha's key, accepts it and keeps it
	// whole.
	cosigLine := []byte("\n— " + strings.Split(bravoKey, "+")[0] + " ")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		state := t.TempDir()
		out, errs, code := alpha.srv.run("witness", "--server", alpha.srv.base, "--token", obsA, "--state", state, "--key", key)
		if code != 0 {
			t.Errorf("witness of alpha's checkpoint: exit %d\n%s%s", code, out, errs)
			break
		}
		kept, err := os.ReadFile(filepath.Join(state, "checkpoint"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(kept, cosigLine) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the witness never kept a checkpoint of alpha's with bravo's cosignature:\n%s", kept)
			break
		}
	}
	// A receipt is bravo's only if it is signed with bravo's node key,
	// given independently of the bundle: alpha's node could sign one with
	// a key of its own making.
	if out, errs, code := alpha.srv.run("verify", path, "--key", key, "--node-key", bravoKey); code != 0 || strings.Contains(out, "--node-key") || !strings.Contains(out, " cosigned by bravo's node at ") {
		t.Errorf("verify --node-key bravo's key: exit %d\n%s%s", code, out, errs)
	}
	// One changed byte of bravo's cosignature fails verification.
	if i := bytes.LastIndex(bundle.raw, []byte(`\n— deconflict`)); i < 0 {
		t.Errorf("the bundle carries no cosignature line:\n%s", bundle.raw)
	} else {
		changed := bytes.Clone(bundle.raw)
		j := i + bytes.LastIndex(changed[i:i+120], []byte(" ")) + 10
		changed[j] ^= 1
		bad := filepath.Join(t.TempDir(), "changed.json")
		if err := os.WriteFile(bad, changed, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, errs, code := alpha.srv.run("verify", bad, "--key", key, "--node-key", bravoKey); code == 0 || !strings.Contains(errs, "VERIFICATION FAILED") {
			t.Errorf("verify of a bundle with a changed cosignature: exit %d\n%s%s", code, out, errs)
		}
	}
	// Given bravo's descriptor, verify also checks that the bundle names
	// bravo's key with bravo's parties; a descriptor of that key naming
	// another party fails.
	if out, errs, code := alpha.srv.run("verify", path, "--key", key, "--node-key", db); code != 0 || !strings.Contains(out, " cosigned by bravo's node at ") {
		t.Errorf("verify --node-key bravo's descriptor: exit %d\n%s%s", code, out, errs)
	}
	other := filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(other, []byte(strings.Replace(db, `"parties":["bravo"]`, `"parties":["charlie"]`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := alpha.srv.run("verify", path, "--key", key, "--node-key", "@"+other); code == 0 || !strings.Contains(errs, "given for that key name charlie") {
		t.Errorf("verify --node-key a descriptor of bravo's key naming charlie: exit %d\n%s%s", code, out, errs)
	}
	// Several descriptors of one key are the parties it hosted in turn:
	// each receipt and cosignature must name those of one of them.
	if out, errs, code := alpha.srv.run("verify", path, "--key", key, "--node-key", "@"+other, "--node-key", db); code != 0 {
		t.Errorf("verify --node-key with bravo's node's descriptor among those given: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := alpha.srv.run("verify", path, "--key", key, "--node-key", key); code == 0 || !strings.Contains(errs, "not one of the receiving nodes' keys") {
		t.Errorf("verify --node-key of another node's key: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code := alpha.srv.run("federation", "status", "--server", alpha.srv.base, "--token", obsA)
	if code != 0 || !strings.Contains(out, "bravo") || !strings.Contains(out, " up ") {
		t.Errorf("federation status: exit %d\n%s%s", code, out, errs)
	}
	alpha.kill()
	alpha.srv.mustRun("federation", "peer", "remove", "bravo")
	if out := alpha.srv.mustRun("federation", "peer", "list"); strings.Contains(out, "bravo") {
		t.Errorf("peer list after remove: %s", out)
	}
	if d := alpha.srv.mustRun("federation", "init", "--url", "http://"+alpha.listen); !strings.Contains(d, `"parties":["alpha"]`) {
		t.Errorf("after removing bravo's node, alpha's node describes itself as %s", d)
	}
}

// TestFederationInitArea: `federation init --area` (repeatable) puts the
// boxes of the node's airspace in its descriptor, a bad box is refused
// naming --area, and a peer that adds the descriptor lists the area.
func TestFederationInitArea(t *testing.T) {
	bravo := &testServer{t: t, store: "sqlite:" + filepath.Join(t.TempDir(), "bravo.db")}
	bravo.mustRun("party", "add", "bravo")
	d := strings.TrimSpace(bravo.mustRun("federation", "init", "--url", "https://bravo.example", "--area", "10.5,10,11,10.5", "--area", "170,-5,-170,5"))
	if !strings.Contains(d, `"area":[[10.5,10,11,10.5],[170,-5,-170,5]]`) {
		t.Errorf("federation init --area printed %s", d)
	}
	for _, bad := range []string{"1,2,3", "0,95,1,96", "0,10,1,5", "a,b,c,d"} {
		if out, errs, code := bravo.run("federation", "init", "--url", "https://bravo.example", "--area", bad); code == 0 || !strings.Contains(errs, "area") {
			t.Errorf("--area %s: exit %d\n%s%s", bad, code, out, errs)
		}
	}
	if d0 := bravo.mustRun("federation", "init", "--url", "https://bravo.example"); strings.Contains(d0, "area") {
		t.Errorf("federation init without --area printed %s", d0)
	}
	alpha := &testServer{t: t, store: "sqlite:" + filepath.Join(t.TempDir(), "alpha.db")}
	alpha.mustRun("party", "add", "alpha")
	alpha.mustRun("federation", "peer", "add", d)
	if out := alpha.mustRun("federation", "peer", "list"); !strings.Contains(out, "10.5,10,11,10.5 170,-5,-170,5") {
		t.Errorf("peer list does not show bravo's area:\n%s", out)
	}
	if _, errs, code := alpha.run("federation", "peer", "add", strings.Replace(d, "[10.5,10,11,10.5]", "[10.5,10,11]", 1)); code == 0 || !strings.Contains(errs, "area") {
		t.Errorf("a descriptor with a box of three numbers: exit %d, %s", code, errs)
	}
}

// openConflictIDs returns the IDs of the open conflicts the token sees on
// s, by the pair of operation IDs ("A B") each is between.
func openConflictIDs(t *testing.T, s *testServer, tok string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range s.do("GET", "/v1/conflicts?status=open&limit=10000", tok, nil).want(t, 200).list("conflicts") {
		ops := jsonPath(c, "operations").([]any)
		out[ops[0].(string)+" "+ops[1].(string)] = jsonPath(c, "id").(string)
	}
	return out
}
