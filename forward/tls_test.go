package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/postgres"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// wiretap is a TCP proxy that keeps every byte it carries, each
// direction apart, as one on the network between two replicas could.
type wiretap struct {
	mu       sync.Mutex
	up, down bytes.Buffer // to the writer; from it
}

// tapWriter appends to one direction of a wiretap.
type tapWriter struct {
	w   *wiretap
	buf *bytes.Buffer
}

func (t tapWriter) Write(b []byte) (int, error) {
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	return t.buf.Write(b)
}

// carried returns what the wiretap saw so far, both directions.
func (w *wiretap) carried() (up, down []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.up.Bytes()), bytes.Clone(w.down.Bytes())
}

// serve carries the connections ln accepts to the address to, until ln
// is closed. Bytes reach the tap before they are passed on.
func (w *wiretap) serve(ln net.Listener, to string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s, err := net.Dial("tcp", to)
			if err != nil {
				return
			}
			defer s.Close()
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(s, io.TeeReader(c, tapWriter{w, &w.up}))
				s.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			_, _ = io.Copy(c, io.TeeReader(s, tapWriter{w, &w.down}))
			<-done
		}()
	}
}

// TestWireCarriesNoNotes hands a declaration over through a TCP proxy
// that records every byte: the writer gets the declaration's notes and
// unshared callsign, and neither crosses the network in the clear, in the
// request or in the answer.
func TestWireCarriesNoNotes(t *testing.T) {
	secret, cert := testKeys(t)
	m := newWriter(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := "https://" + ln.Addr().String()
	var holding atomic.Bool
	holding.Store(true)
	// The writer takes requests for the URL the others reach it at: the
	// proxy's.
	srv := serveTLS(t, cert, Handler(m, secret, proxy, holding.Load, nil))
	tap := &wiretap{}
	go tap.serve(ln, srv.Listener.Addr().String())
	t.Cleanup(func() { ln.Close() })

	notes, callsign := "meet the survey team at the north gate, 06:40", "NOTSHARED42"
	d := testDeclaration(33)
	d.Notes, d.Callsign = &notes, &callsign
	id := uuid.NewString()
	p := peerTo(proxy, secret, cert)
	outs, err := p.Forward(context.Background(), []mechanism.Forwarded{{Actor: alpha, ID: id, Declaration: d}})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Err != nil || !outs[0].Result.Created {
		t.Fatalf("the declaration handed over: %+v", outs[0])
	}
	res, err := m.Operation(context.Background(), alpha, id)
	if err != nil {
		t.Fatal(err)
	}
	if res.Operation.Notes == nil || *res.Operation.Notes != notes {
		t.Fatalf("the writer stored notes %v, want %q: the test proves nothing", res.Operation.Notes, notes)
	}
	up, down := tap.carried()
	if len(up) < 1000 || len(down) < 100 {
		t.Fatalf("the proxy carried %d bytes up, %d down: the hand-over did not go through it", len(up), len(down))
	}
	for dir, b := range map[string][]byte{"to the writer": up, "from the writer": down} {
		for _, clear := range []string{notes, callsign, `"notes"`, Path} {
			if bytes.Contains(b, []byte(clear)) {
				t.Errorf("%q crossed the network in the clear, %s", clear, dir)
			}
		}
	}
}

// TestChannelRefusesStrangers sends a hand-over signed with the
// deployment's secret to a writer from clients that do not hold the
// deployment's certificate, or speak plain HTTP: none of them gets it
// applied; the same request from a replica's client is.
func TestChannelRefusesStrangers(t *testing.T) {
	secret, cert := testKeys(t)
	var holding atomic.Bool
	holding.Store(true)
	m, srv := writerOn(t, secret, cert, &holding)
	body, err := json.Marshal(toWire([]mechanism.Forwarded{{Actor: alpha, ID: uuid.NewString(), Declaration: testDeclaration(33)}}))
	if err != nil {
		t.Fatal(err)
	}
	send := func(c *http.Client, url string) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, url+Path, bytes.NewReader(body))
		req.Header.Set(SignatureHeader, sign(secret, "request", time.Now(), newNonce(), srv.URL, "", body))
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	client := func(cfg *tls.Config) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	other := testCertificate(t)
	plainURL := "http://" + srv.Listener.Addr().String()
	for name, try := range map[string]func() (int, error){
		"trusting any server, no certificate": func() (int, error) {
			return send(client(&tls.Config{InsecureSkipVerify: true}), srv.URL)
		},
		"trusting any server, another deployment's certificate": func() (int, error) {
			return send(client(&tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{other}}), srv.URL)
		},
		"plain HTTP": func() (int, error) { return send(&http.Client{}, plainURL) },
	} {
		if status, err := try(); err == nil && status == http.StatusOK {
			t.Errorf("%s: answered %d", name, status)
		}
		if n := m.Index().LiveOperations(); n != 0 {
			t.Fatalf("%s: the writer applied a hand-over (%d operations)", name, n)
		}
	}
	if status, err := send(pinnedClient(cert), srv.URL); err != nil || status != http.StatusOK || m.Index().LiveOperations() != 1 {
		t.Errorf("the same request from a replica: %d, %v, %d operations; want 200 and 1", status, err, m.Index().LiveOperations())
	}
}

// TestDiallerRefusesAnotherCertificate: a server at the writer's URL that
// presents any certificate but the deployment's (another deployment's,
// for the same name; one a CA signed) is refused in the handshake: it
// gets no request, and the declarations, sent to no one, are written
// where they arrived (ErrNotForwarded).
func TestDiallerRefusesAnotherCertificate(t *testing.T) {
	secret, cert := testKeys(t)
	var reached atomic.Int32
	impostor := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })
	// It asks for no client certificate: refusing it is the dialler's
	// part.
	another := httptest.NewUnstartedServer(impostor)
	another.TLS = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{testCertificate(t)}}
	another.StartTLS()
	defer another.Close()
	caSigned := httptest.NewTLSServer(impostor)
	defer caSigned.Close()
	for name, url := range map[string]string{"another deployment's": another.URL, "signed by a CA": caSigned.URL} {
		p := peerTo(url, secret, cert)
		_, err := p.Forward(context.Background(), []mechanism.Forwarded{{Actor: alpha, ID: uuid.NewString(), Declaration: testDeclaration(33)}})
		if !errors.Is(err, mechanism.ErrNotForwarded) {
			t.Errorf("%s certificate: %v; want ErrNotForwarded", name, err)
		} else if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s certificate: %v; want the certificate named", name, err)
		}
		if p.Active() {
			t.Errorf("%s certificate: the peer goes on handing over", name)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("a server with another certificate got %d requests", n)
	}
}

// TestPlainWriterNotDialled: a writer URL that is not https (a value
// written by hand, say) is never dialled: its declarations are written
// here.
func TestPlainWriterNotDialled(t *testing.T) {
	secret, cert := testKeys(t)
	var reached atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer plain.Close()
	p := peerTo(plain.URL, secret, cert)
	if p.Active() {
		t.Error("a peer hands over to an http:// writer")
	}
	_, err := p.Forward(context.Background(), []mechanism.Forwarded{{Actor: alpha, ID: uuid.NewString(), Declaration: testDeclaration(33)}})
	if !errors.Is(err, mechanism.ErrNotForwarded) || reached.Load() != 0 {
		t.Errorf("to an http:// writer: %v, %d requests; want ErrNotForwarded and none", err, reached.Load())
	}
}

// sameCertificate makes the channel's certificate from n goroutines at
// once on the stores given (replicas starting together), and checks
// that all of them got one and the same, the one kept.
func sameCertificate(t *testing.T, stores []dc.Store, n int) {
	t.Helper()
	ctx := context.Background()
	got := make([]tls.Certificate, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = Certificate(ctx, stores[i%len(stores)])
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i].Certificate[0], got[0].Certificate[0]) {
			t.Fatalf("replicas 0 and %d made different certificates", i)
		}
	}
	again, err := Certificate(ctx, stores[0])
	if err != nil || !bytes.Equal(again.Certificate[0], got[0].Certificate[0]) {
		t.Errorf("the certificate read afterwards is not the one they got (%v)", err)
	}
}

// TestCertificateMadeOnce: replicas asking for the channel's certificate
// at once, on a fresh store, end with one.
func TestCertificateMadeOnce(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir()+"/d.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sameCertificate(t, []dc.Store{st}, 8)
}

// TestCertificateMadeOncePostgres: two replicas (two connection pools)
// on one PostgreSQL database, asking for the certificate at once, end
// with one.
func TestCertificateMadeOncePostgres(t *testing.T) {
	url := pgtest.Database(t)
	var stores []dc.Store
	for range 2 {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores = append(stores, st)
	}
	sameCertificate(t, stores, 8)
}

// TestCertificateUnreadable: a meta value that is not a certificate and
// its key is an error naming the meta row, and not quoting it (it would
// hold the key).
func TestCertificateUnreadable(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/d.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	good, err := newCertificate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cut := good[:len(good)-40] // the key's PEM block cut short
	if err := st.Update(ctx, func(tx dc.Tx) error { return tx.PutMeta(ctx, certMeta, cut) }); err != nil {
		t.Fatal(err)
	}
	_, err = Certificate(ctx, st)
	if err == nil || !strings.Contains(err.Error(), certMeta) {
		t.Fatalf("a cut certificate: %v; want an error naming %s", err, certMeta)
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), string(cut[len(cut)-30:])) {
		t.Errorf("the error quotes the key: %v", err)
	}
}

// FuzzParseCertificate: any meta value either reads as one certificate
// with its leaf and key, or is refused, without panicking.
func FuzzParseCertificate(f *testing.F) {
	good, err := newCertificate(time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add(append(append([]byte{}, good...), good...))
	f.Fuzz(func(t *testing.T, v []byte) {
		cert, err := parseCertificate(v)
		if err == nil && (cert.Leaf == nil || cert.PrivateKey == nil || len(cert.Certificate) != 1) {
			t.Errorf("read as a certificate without its leaf or key")
		}
	})
}
