package forward

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ServerName is the name in the channel's certificate, and the name every
// replica asks for when it dials another, whatever host its URL names:
// the certificate is the deployment's own, trusted by no one else, so
// the name only has to match itself. (.invalid is reserved: it never
// resolves.)
const ServerName = "replicas.deconflict.invalid"

// notAfter is the end of the certificate's validity: none (RFC 5280,
// 4.1.2.5). Replicas trust it by pinning it, not by a CA's word, and
// there is no one to renew it.
var notAfter = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// newCertificate returns a fresh ECDSA P-256 key pair and a self-signed
// certificate for ServerName, as one PEM text: the certificate, then the
// private key (PKCS #8). It serves the channel and, as the client's
// certificate, authenticates the dialling replica.
func newCertificate(now time.Time) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate a serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "deconflict replicas"},
		DNSNames:     []string{ServerName},
		// An hour back: a replica whose clock is a little behind the
		// one that made it trusts it too.
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make the certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode the key: %w", err)
	}
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	return b.Bytes(), nil
}

// parseCertificate reads what newCertificate made. Its errors never quote
// the text, which holds the private key.
func parseCertificate(v []byte) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(v, v)
	if err != nil {
		return tls.Certificate{}, errors.New("not a PEM certificate and its private key")
	}
	if len(cert.Certificate) != 1 || cert.Leaf == nil {
		return tls.Certificate{}, errors.New("want exactly one certificate")
	}
	return cert, nil
}

// pinned returns a pool holding the channel's certificate alone.
func pinned(cert tls.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return pool
}

// ServerTLS returns the configuration a replica serves the channel with:
// TLS 1.3 only, presenting cert, and requiring the dialling replica to
// present cert too (mutual TLS). A client that does not hold the
// deployment's key completes no handshake, and so sends no request the
// handler would read.
func ServerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pinned(cert),
		NextProtos:   []string{"http/1.1"},
	}
}

// clientTLS returns the configuration a replica dials the writer with:
// TLS 1.3 only, trusting cert and nothing else, for ServerName, and
// presenting cert. A server that presents any other certificate fails the
// handshake before a byte of the request is sent. (The server checks the
// client's certificate after the client's handshake ends; both being the
// same certificate, a server that would refuse it is one the client
// refused first.)
func clientTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		RootCAs:            pinned(cert),
		ServerName:         ServerName,
		Certificates:       []tls.Certificate{cert},
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
	}
}
