package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/console"
	"github.com/deconflict/deconflict/federation"
	dchttp "github.com/deconflict/deconflict/http"
	"github.com/deconflict/deconflict/internal/gcfloor"
	"github.com/deconflict/deconflict/internal/lease"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/notify"
	"github.com/deconflict/deconflict/sqlite"
)

func (m *Main) serve(ctx context.Context, args []string, demo bool) error {
	name := "serve"
	if demo {
		name = "demo"
	}
	fs := m.newFlags(name, name+" [--listen ADDR] [--store URL] [--tls-cert FILE --tls-key FILE [--client-ca FILE]]")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	store := m.storeFlag(fs)
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	tlsKey := fs.String("tls-key", "", "the private key of --tls-cert (PEM)")
	clientCA := fs.String("client-ca", "", "require client certificates signed by this CA (mutual TLS)")
	rateLimit := fs.Float64("rate-limit", 5000, "requests per second allowed to one token (bursts of twice as many); 0 for no limit")
	authFailLimit := fs.Float64("auth-fail-limit", 5, "requests without a valid token per second allowed to one client address (bursts of ten times as many), then 429; valid tokens are never limited by it; 0 for no limit")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	snapshot := fs.String("index-snapshot", "auto", "file kept with a snapshot of the conflict index, to restart fast; auto: beside a SQLite store, none on PostgreSQL; none: no snapshot")
	snapshotEvery := fs.Duration("index-snapshot-every", 10*time.Minute, "how often the index snapshot is refreshed while serving (also at start and at shutdown)")
	allowDefault := ""
	if demo { // a demo runs on one machine: let webhooks reach it
		allowDefault = "127.0.0.0/8,::1"
	}
	webhookAllow := fs.String("webhook-allow", allowDefault, "address ranges webhooks may reach although they are loopback, link-local, private, multicast or unspecified: CIDR[,CIDR…], such as a party's own network, or 127.0.0.0/8 for tests on one machine")
	dssf := dssFlags{
		keys:      fs.String("dss-keys", "", "serve the ASTM F3548 DSS interface under /dss/v1/, trusting access tokens signed by these keys (PEM RSA public keys or JWKS files, comma-separated)"),
		audiences: fs.String("dss-audience", "", "accepted aud of DSS access tokens, comma-separated (default: localhost and the --listen host)"),
	}
	snapshotAfter := fs.Int64("index-snapshot-after", 100000, "refresh the index snapshot also once this many events were logged since the last one (at most once a minute), so a restart after a crash has about that many at most to catch up; 0: only by time")
	probeEvery := fs.Duration("write-probe-every", 10*time.Second, "when nothing else wrote for this long, commit one small row to learn whether the store still takes writes (/readyz answers 503 while it does not)")
	replicaListen := fs.String("replica-listen", "auto", "address of the channel between replicas of one PostgreSQL database, on which the replica holding the writer lease takes the declarations the others hand it, so that one replica writes them in large batches; auto: the --listen host on a free port, if --listen names one (none on SQLite); none: every replica writes its own")
	replicaURLFlag := fs.String("replica-url", "", "the URL other replicas reach --replica-listen at, when it is not https:// and the address listened on (behind NAT or a TCP port forward); https only: the channel is TLS under a certificate the replicas keep in the database and trust alone, so a TLS terminator in front of it is refused")
	pprofAddr := fs.String("pprof", "", "serve Go's runtime profiles (/debug/pprof/) on this loopback address, apart from the API; none if empty")
	if pos, err := m.parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		fs.Usage()
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	if (*tlsCert == "") != (*tlsKey == "") || (*clientCA != "" && *tlsCert == "") {
		return errors.New("--tls-cert and --tls-key go together, and --client-ca needs them")
	}
	replicaURL, err := parseReplicaURL(*replicaURLFlag)
	if err != nil {
		return err
	}
	allow, err := dc.ParseEgressAllow(*webhookAllow)
	if err != nil {
		return fmt.Errorf("--webhook-allow: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
	gcfloor.Set(gcfloor.Server)
	if *pprofAddr != "" {
		if err := servePprof(ctx, *pprofAddr, log); err != nil {
			return err
		}
	}

	st, err := openStore(ctx, *store)
	if err != nil {
		return err
	}
	defer st.Close()
	if *snapshotEvery <= 0 {
		return errors.New("--index-snapshot-every must be positive")
	}
	if *probeEvery <= 0 {
		return errors.New("--write-probe-every must be positive")
	}
	if *snapshotAfter < 0 {
		return errors.New("--index-snapshot-after must be 0 or more")
	}
	// Listen before loading the index (seconds at a million live
	// operations): a port in use fails at once, and while the index
	// loads /readyz answers 503 instead of the port being closed.
	var handler atomic.Pointer[http.Handler]
	starting := dchttp.Starting()
	handler.Store(&starting)
	hs := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if *tlsCert != "" {
		cfg, err := tlsConfig(*tlsCert, *tlsKey, *clientCA)
		if err != nil {
			return err
		}
		hs.TLSConfig = cfg
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if hs.TLSConfig != nil {
		scheme = "https"
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	defer hs.Close() // a failed start: nothing under way to finish

	mech := mechanism.New(st, mechanism.Options{Logger: log, IndexSnapshot: snapshotFile(*snapshot, *store), WebhookAllow: allow})
	if err := mech.Load(ctx); err != nil {
		return err
	}
	replicaAddr, err := replicaListenAddr(*replicaListen, *listen, storeKind(*store) == "postgres")
	if err != nil {
		return err
	}
	fwd, err := startForwarding(ctx, st, leaserFor(st, *store), mech, replicaAddr, replicaURL, log)
	if err != nil {
		return err
	}
	defer fwd.close()
	if !console.Built() {
		log.Warn(console.NotBuiltMessage)
	}
	var fedOpts *dchttp.FederationOptions
	var node *federation.Node
	if federation.Supported(st) {
		node = federation.New(mech, federation.Options{Logger: log})
		if _, err := node.Refresh(ctx); err != nil {
			return fmt.Errorf("federation peers: %w", err)
		}
		fedOpts = &dchttp.FederationOptions{
			Status:  func(ctx context.Context) (any, error) { return node.Status(ctx) },
			Peers:   node.Handler(),
			Pulling: node.Pulling,
			Pulls:   node.Pulls,
		}
	}
	srv := dchttp.NewServer(mech, dchttp.Options{Logger: log, RateLimit: *rateLimit, Console: console.Handler(),
		AuthFailureLimit: *authFailLimit, AuthFailureBurst: int(10 * *authFailLimit), Federation: fedOpts})
	hs.RegisterOnShutdown(srv.StopStreams)
	workers, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); mech.Duty().RunEscalations(workers, time.Second) }()
	go func() { defer wg.Done(); mech.Health().RunWriteProbes(workers, *probeEvery) }()
	go func() { defer wg.Done(); mech.Index().RunIndexSnapshots(workers, *snapshotEvery, *snapshotAfter) }()
	deliverer := notify.New(st, notify.Options{Changed: mech.Changed, Logger: log, Delivered: mech.Webhooks().RecordDelivery, Allow: allow})
	go func() { defer wg.Done(); lease.While(workers, leaserFor(st, *store), "webhooks", log, deliverer.Run) }()
	if l, ok := st.(dc.Logging); ok {
		l.SetLogger(log)
	}
	if node != nil {
		wg.Add(1)
		go func() { defer wg.Done(); node.Run(workers) }()
	}
	if l, ok := st.(dc.Listener); ok { // wake streams when other replicas commit
		wg.Add(1)
		go func() { defer wg.Done(); followCommits(workers, l, mech.Replicas(), log) }()
	}
	defer func() { stopWorkers(); wg.Wait() }() // before the store closes

	serving, err := withDSS(ctx, dssf, *listen, mech, log, srv)
	if err != nil {
		return err
	}
	handler.Store(&serving)
	base := fmt.Sprintf("%s://%s", scheme, ln.Addr())
	log.Info("serving", slog.String("address", base), slog.String("store", storeKind(*store)), slog.Int("live_operations", mech.Index().LiveOperations()))
	if demo {
		if err := seedDemo(ctx, mech, m.Stdout, base); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}
	if m.Ready != nil {
		m.Ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests under way")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fwd.release(sctx) // the other replicas write their own meanwhile
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	stopWorkers()
	wg.Wait()
	if err := mech.Index().SaveIndex(context.WithoutCancel(ctx)); err != nil {
		log.Warn("index snapshot not saved: the next start loads from the store", slog.String("error", err.Error()))
	}
	log.Info("stopped")
	return nil
}

// snapshotFile returns the index snapshot file the --index-snapshot flag
// names for the store: "auto" is the SQLite file's name + ".index", and
// none on PostgreSQL (each replica would need its own file).
func snapshotFile(flag, store string) string {
	switch flag {
	case "none", "":
		return ""
	case "auto":
		if path, ok := strings.CutPrefix(store, "sqlite:"); ok {
			return strings.TrimPrefix(path, "//") + ".index"
		}
		return ""
	}
	return flag
}

// storeKind names the kind of store without its credentials, for logs.
func storeKind(url string) string {
	if len(url) > 7 && url[:7] == "sqlite:" {
		return url + " on " + sqlite.Library
	}
	return "postgres"
}

// aeadSuites are the TLS 1.2 cipher suites served: forward-secret (ECDHE)
// with an AEAD cipher only, none of the CBC suites with SHA-1 MACs that Go
// still enables by default. TLS 1.3 suites are all AEAD and not
// configurable.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

func tlsConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS key pair: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, CipherSuites: aeadSuites}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s holds no PEM certificate", caFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
