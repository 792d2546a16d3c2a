package record

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Federation nodes witness each other's logs: a node that verified a
// peer's checkpoint cosigns it, in the C2SP tlog-cosignature format
// (cosignature/v1): a signature line of the signed note, by the
// witness's Ed25519 key, over
//
//	cosignature/v1
//	time <unix seconds>
//	<the checkpoint's text>
//
// whose blob is the 4-byte key hash, the 8-byte time and the signature.
// The key hash is the first 4 bytes of SHA-256(name, "\n", 0x04, public
// key). The witness's key is its node key (a signed-note key pair), used
// for this second purpose under the cosignature algorithm.

const cosignatureAlg = 0x04

// noteKey returns the name and the key bytes of a signed-note key string:
// "PRIVATE+KEY+name+hash+base64" for a signer, "name+hash+base64" for a
// verifier. The key bytes are the Ed25519 seed or public key.
func noteKey(key string, private bool) (string, []byte, error) {
	if private {
		rest, ok := strings.CutPrefix(key, "PRIVATE+KEY+")
		if !ok {
			return "", nil, fmt.Errorf("not a signer key")
		}
		key = rest
	}
	parts := strings.SplitN(key, "+", 3)
	if len(parts) != 3 || parts[0] == "" {
		return "", nil, fmt.Errorf("malformed key")
	}
	b, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(b) != 1+32 || b[0] != 0x01 {
		return "", nil, fmt.Errorf("not an Ed25519 note key")
	}
	return parts[0], b[1:], nil
}

func cosignatureKeyHash(name string, pub []byte) [4]byte {
	h := sha256.Sum256(append(append([]byte(name+"\n"), cosignatureAlg), pub...))
	return [4]byte(h[:4])
}

func cosignedMessage(ts uint64, text []byte) []byte {
	return append([]byte("cosignature/v1\ntime "+strconv.FormatUint(ts, 10)+"\n"), text...)
}

// noteText returns the text of a signed note (up to and with the last
// newline before the blank line that starts the signatures).
func noteText(msg []byte) ([]byte, error) {
	i := bytes.Index(msg, []byte("\n\n"))
	if i < 0 {
		return nil, fmt.Errorf("not a signed note")
	}
	return msg[:i+1], nil
}

// Cosign adds the witness's cosignature, made at now, to a signed
// checkpoint (checked by the caller).
func Cosign(checkpoint []byte, signerKey string, now time.Time) ([]byte, error) {
	name, seed, err := noteKey(signerKey, true)
	if err != nil {
		return nil, fmt.Errorf("cosign: %w", err)
	}
	text, err := noteText(checkpoint)
	if err != nil {
		return nil, fmt.Errorf("cosign: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	ts := uint64(now.Unix())
	kh := cosignatureKeyHash(name, priv.Public().(ed25519.PublicKey))
	blob := append(kh[:], binary.BigEndian.AppendUint64(nil, ts)...)
	blob = append(blob, ed25519.Sign(priv, cosignedMessage(ts, text))...)
	out := bytes.Clone(checkpoint)
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return append(out, "— "+name+" "+base64.StdEncoding.EncodeToString(blob)+"\n"...), nil
}

// VerifyCosignature checks the cosignature of the witness whose verifier
// key is given on a checkpoint, and returns when it was made.
func VerifyCosignature(checkpoint []byte, verifierKey string) (time.Time, error) {
	text, err := noteText(checkpoint)
	if err != nil {
		return time.Time{}, fmt.Errorf("cosignature: %w", err)
	}
	_, at, err := cosignatureOver(checkpoint, text, verifierKey)
	return at, err
}

// cosignatureOver finds, among the signature lines of the signed note
// msg, the cosignature by the witness whose verifier key is given, checks
// it over text (a checkpoint's text, which need not be msg's own), and
// returns the line (without its newline) and when it was made.
func cosignatureOver(msg, text []byte, verifierKey string) (string, time.Time, error) {
	name, pub, err := noteKey(verifierKey, false)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("cosignature: %w", err)
	}
	own, err := noteText(msg)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("cosignature: %w", err)
	}
	kh := cosignatureKeyHash(name, pub)
	for _, line := range strings.Split(string(msg[len(own)+1:]), "\n") {
		rest, ok := strings.CutPrefix(line, "— "+name+" ")
		if !ok {
			continue
		}
		blob, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(blob) != 4+8+ed25519.SignatureSize || !bytes.Equal(blob[:4], kh[:]) {
			continue
		}
		ts := binary.BigEndian.Uint64(blob[4:12])
		if !ed25519.Verify(ed25519.PublicKey(pub), cosignedMessage(ts, text), blob[12:]) {
			return "", time.Time{}, fmt.Errorf("cosignature: %w: the cosignature of %s does not verify", ErrBadSignature, name)
		}
		return line, time.Unix(int64(ts), 0).UTC(), nil
	}
	return "", time.Time{}, fmt.Errorf("cosignature: %w: no cosignature by %s", ErrUnknownKey, name)
}

// CosignatureVerifier returns a note.Verifier of the cosignatures
// (cosignature/v1) made by the witness whose verifier key is given, so
// that note.Open checks them alongside the log's own signature. A
// cosignature's blob, after the key hash, is the 8-byte time and the
// Ed25519 signature of the cosigned message.
func CosignatureVerifier(verifierKey string) (note.Verifier, error) {
	name, pub, err := noteKey(verifierKey, false)
	if err != nil {
		return nil, fmt.Errorf("cosignature: %w", err)
	}
	kh := cosignatureKeyHash(name, pub)
	return cosigVerifier{name: name, hash: binary.BigEndian.Uint32(kh[:]), pub: ed25519.PublicKey(pub)}, nil
}

type cosigVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

func (v cosigVerifier) Name() string    { return v.name }
func (v cosigVerifier) KeyHash() uint32 { return v.hash }
func (v cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(v.pub, cosignedMessage(binary.BigEndian.Uint64(sig[:8]), msg), sig[8:])
}
