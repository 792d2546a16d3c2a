package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"path/filepath"
	"testing"
)

// TestTLSOffersOnlyAEADSuites: over TLS 1.2 the server agrees only to
// ECDHE with AES-GCM or ChaCha20-Poly1305; a client that offers nothing
// but CBC suites with SHA-1 MACs fails the handshake, and TLS 1.1 is
// refused.
func TestTLSOffersOnlyAEADSuites(t *testing.T) {
	dir := t.TempDir()
	ca, _, _ := certPair(t, dir, "ca", nil, false)
	_, srvCert, srvKey := certPair(t, dir, "server", &ca, true)

	addr, stop := serveInProcess(t, []string{"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + filepath.Join(dir, "d.db"),
		"--tls-cert", srvCert, "--tls-key", srvKey}, io.Discard, &syncBuffer{})
	defer stop()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	dial := func(minV, maxV uint16, suites ...uint16) (uint16, error) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: minV, MaxVersion: maxV, CipherSuites: suites})
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.ConnectionState().CipherSuite, nil
	}
	for _, cbc := range [][]uint16{
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
		{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_GCM_SHA256},
	} {
		if suite, err := dial(tls.VersionTLS12, tls.VersionTLS12, cbc...); err == nil {
			t.Errorf("a TLS 1.2 client offering only %v was served with %s", cbc, tls.CipherSuiteName(suite))
		}
	}
	if _, err := dial(tls.VersionTLS10, tls.VersionTLS11); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	for _, aead := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256} {
		if suite, err := dial(tls.VersionTLS12, tls.VersionTLS12, aead); err != nil || suite != aead {
			t.Errorf("TLS 1.2 with %s: got %s, %v", tls.CipherSuiteName(aead), tls.CipherSuiteName(suite), err)
		}
	}
	if _, err := dial(tls.VersionTLS13, tls.VersionTLS13); err != nil {
		t.Errorf("TLS 1.3: %v", err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}
