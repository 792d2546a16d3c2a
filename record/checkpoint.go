package record

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Errors that ParseCheckpoint, CheckConsistency and Witness wrap, for
// errors.Is. Every error also says what exactly is wrong.
var (
	// ErrMalformed: the checkpoint is not a signed note of the form
	// "origin\nN\nbase64(hash)\n".
	ErrMalformed = errors.New("malformed checkpoint")
	// ErrBadSignature: a signature by a known key does not verify; the
	// text was changed after signing, or the signature is forged.
	ErrBadSignature = errors.New("bad checkpoint signature")
	// ErrUnknownKey: the checkpoint carries no signature by any key given.
	ErrUnknownKey = errors.New("checkpoint not signed by a known key")
	// ErrRollback: the new checkpoint is of a smaller log than the old.
	ErrRollback = errors.New("log rolled back")
	// ErrFork: two checkpoints of the same size with different hashes.
	ErrFork = errors.New("log forked")
	// ErrInconsistent: the consistency proof fails, so the old log is not
	// a prefix of the new one: history was rewritten.
	ErrInconsistent = errors.New("log history rewritten")
)

// NewKey makes an Ed25519 signing key (note.GenerateKey) named name,
// with Signer and Verifier in the note key formats ("PRIVATE+KEY+name+…",
// "name+hash+…"). The name is what signature lines of checkpoints show;
// tlog witnesses expect the log's origin, and a suffix that tells a log's
// keys apart is usual (Tx.PutKey replaces a key of the same name). The
// name must be non-empty, without spaces or '+'.
func NewKey(name string, now time.Time) (*dc.SigningKey, error) {
	if err := checkOrigin(name); err != nil {
		return nil, err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, fmt.Errorf("generate log key: %w", err)
	}
	return &dc.SigningKey{Name: name, Verifier: vkey, Signer: skey, CreatedAt: now.UTC()}, nil
}

// checkOrigin reports whether origin can name a log and its keys: valid
// UTF-8, not empty, no white space, no '+'.
func checkOrigin(origin string) error {
	if origin == "" || !utf8.ValidString(origin) || strings.ContainsRune(origin, '+') || strings.IndexFunc(origin, unicode.IsSpace) >= 0 {
		return dc.Errorf(dc.EInvalid, "log origin or key name %q must be non-empty, without spaces or '+'", origin)
	}
	return nil
}

// formatCheckpoint is the text of a checkpoint: the tlog.Tree lines of the
// Go checksum database with the log's origin as the first line (the
// C2SP tlog-checkpoint form).
func formatCheckpoint(origin string, t tlog.Tree) []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", origin, t.N, t.Hash)
}

// signNote signs text with every key given.
func signNote(text []byte, keys []*dc.SigningKey) ([]byte, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("no signing key")
	}
	signers := make([]note.Signer, 0, len(keys))
	for _, k := range keys {
		s, err := NoteSigner(k.Signer)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.Name, err)
		}
		signers = append(signers, s)
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return msg, nil
}

// Checkpoint returns the signed checkpoint of the log of its first n
// records: a signed note (golang.org/x/mod/sumdb/note) whose text is
//
//	origin
//	n
//	base64(tree hash)
//
// signed with every key of signers. Pass the newest active key (and, while
// witnesses move over to it, the one before), so that witnesses holding
// either key verify it.
func Checkpoint(ctx context.Context, tx Hashes, origin string, n int64, signers []*dc.SigningKey) ([]byte, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	h, err := TreeHash(ctx, tx, n)
	if err != nil {
		return nil, err
	}
	msg, err := signNote(formatCheckpoint(origin, tlog.Tree{N: n, Hash: h}), signers)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return msg, nil
}

// openNote opens a signed note with the verifier keys and explains a
// failure; what names the note in messages. Every signature line must be
// by one of the keys, once, and verify (canonicalSigs): a line note.Open
// would skip unchecked — a second one by a key, or one by a key it was
// not given — fails, so that what verifies is exactly what was signed.
func openNote(what string, msg []byte, verifiers []string) (*note.Note, error) {
	n, err := openSigned(what, msg, verifiers)
	if err != nil {
		return nil, err
	}
	if err := canonicalSigs(what, string(msg), n); err != nil {
		return nil, err
	}
	return n, nil
}

// openSigned opens a signed note with the verifier keys: at least one
// signature line must be by one of them, and each such line must verify.
// Lines by other keys are left in n.UnverifiedSigs, and a second line by
// a key is skipped unchecked; the caller decides about those
// (canonicalSigs, checkSigLines).
func openSigned(what string, msg []byte, verifiers []string) (*note.Note, error) {
	if len(verifiers) == 0 {
		return nil, fmt.Errorf("%s: %w: no verifier key given", what, ErrUnknownKey)
	}
	vs := make([]note.Verifier, 0, len(verifiers))
	var names []string
	for _, k := range verifiers {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("%s: verifier key %q: %v", what, k, err)
		}
		vs = append(vs, v)
		names = append(names, fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()))
	}
	n, err := note.Open(msg, note.VerifierList(vs...))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case err == nil:
		return n, nil
	case errors.As(err, &unverified):
		var by []string
		for _, s := range unverified.Note.UnverifiedSigs {
			by = append(by, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return nil, fmt.Errorf("%s: %w: it is signed by %s, not by %s", what, ErrUnknownKey,
			strings.Join(by, ", "), strings.Join(names, ", "))
	case errors.As(err, &invalid):
		return nil, fmt.Errorf("%s: %w: the signature by key %s+%08x does not verify: the text was changed after signing, or the signature is forged",
			what, ErrBadSignature, invalid.Name, invalid.Hash)
	default:
		return nil, fmt.Errorf("%s: %w: not a signed note (%v)", what, ErrMalformed, err)
	}
}

// canonicalSigs refuses a note (msg, opened as n) that carries a
// signature line note.Open did not check — a second line by one key,
// which it skips, or a line by a key it was not given — or whose verified
// signatures are not in canonical base64: note.Open ignores the unused
// bits of the last character, so a changed byte there would otherwise
// still verify. What verifies is then exactly what was signed.
func canonicalSigs(what, msg string, n *note.Note) error {
	return checkSigLines(what, msg, n, false)
}

// checkSigLines is canonicalSigs; with others true, lines by keys the
// note was not opened with are allowed (each key once): the cosignatures
// of witnesses whose keys the reader does not hold.
func checkSigLines(what, msg string, n *note.Note, others bool) error {
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(msg[len(n.Text)+1:], "\n"), "\n") {
		// note.Open checked the form: "— name base64", whose blob starts
		// with the 4-byte key hash.
		name, b64, _ := strings.Cut(strings.TrimPrefix(line, "— "), " ")
		blob, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(blob) < 4 {
			return fmt.Errorf("%s: %w: bad signature line %q", what, ErrMalformed, line)
		}
		id := fmt.Sprintf("%s+%08x", name, binary.BigEndian.Uint32(blob))
		if seen[id] {
			return fmt.Errorf("%s: %w: two signature lines by key %s: each key signs once", what, ErrMalformed, id)
		}
		seen[id] = true
	}
	if len(n.UnverifiedSigs) > 0 && !others {
		s := n.UnverifiedSigs[0]
		return fmt.Errorf("%s: %w: a signature line by key %s+%08x, which is not a key it may be signed with", what, ErrUnknownKey, s.Name, s.Hash)
	}
	for _, s := range n.Sigs {
		blob, err := base64.StdEncoding.DecodeString(s.Base64)
		if err != nil || base64.StdEncoding.EncodeToString(blob) != s.Base64 {
			return fmt.Errorf("%s: %w: the signature by %s is not in canonical base64", what, ErrMalformed, s.Name)
		}
	}
	return nil
}

// ParseCheckpoint opens a signed checkpoint with the verifier keys given
// and returns its origin and tree. At least one signature must be by one
// of the keys, and every signature by one of the keys must verify. Errors
// wrap ErrMalformed, ErrBadSignature or ErrUnknownKey and say what is
// wrong. Lines after the hash (checkpoint extensions) are ignored.
//
// Signature lines by other keys are allowed, each key once: a federation
// node serves its checkpoint (GET /v1/log/checkpoint) with its peers'
// cosignatures, which a reader holding only the log's key cannot check
// and which vouch for nothing to it; a reader that holds a witness's key
// checks its line with VerifyCosignature. A second line by any key is
// refused (note.Open would skip it unchecked), and so is a signature by a
// key given whose base64 is not canonical.
func ParseCheckpoint(msg []byte, verifiers ...string) (origin string, tree tlog.Tree, err error) {
	return parseCheckpoint(msg, true, verifiers)
}

// parseCheckpoint is ParseCheckpoint; with others false every signature
// line must be by one of the keys (openNote), as on a bundle's own
// checkpoint, which the log alone signs.
func parseCheckpoint(msg []byte, others bool, verifiers []string) (origin string, tree tlog.Tree, err error) {
	var n *note.Note
	if others {
		if n, err = openSigned("checkpoint", msg, verifiers); err == nil {
			err = checkSigLines("checkpoint", string(msg), n, true)
		}
	} else {
		n, err = openNote("checkpoint", msg, verifiers)
	}
	if err != nil {
		return "", tlog.Tree{}, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint: %w: want 3 lines (origin, size, hash), got %d", ErrMalformed, len(lines)-1)
	}
	origin = lines[0]
	if checkOrigin(origin) != nil {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint: %w: bad origin line %q", ErrMalformed, origin)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint: %w: bad tree size line %q", ErrMalformed, lines[1])
	}
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint: %w: bad tree hash line %q", ErrMalformed, lines[2])
	}
	tree.N = size
	copy(tree.Hash[:], h)
	return origin, tree, nil
}

// CheckConsistency decides whether a witness may accept the tree of a new
// checkpoint after the tree of the one it kept (whose signatures were
// checked with ParseCheckpoint): nil if new extends old (proof is the
// consistency proof from old.N to new.N), else an error wrapping
// ErrRollback (new is smaller), ErrFork (same size, different hash) or
// ErrInconsistent (the proof fails: old is not a prefix of new). A witness
// with no checkpoint yet passes the zero Tree as old.
func CheckConsistency(old, new tlog.Tree, proof tlog.TreeProof) error {
	switch {
	case new.N < old.N:
		return fmt.Errorf("%w: the log had %d entries (%s) and now has %d (%s)", ErrRollback, old.N, old.Hash, new.N, new.Hash)
	case old.N == 0:
		return nil
	case new.N == old.N:
		if new.Hash != old.Hash {
			return fmt.Errorf("%w: two different logs of %d entries: %s kept, %s now", ErrFork, old.N, old.Hash, new.Hash)
		}
		return nil
	}
	if err := tlog.CheckTree(proof, new.N, new.Hash, old.N, old.Hash); err != nil {
		return fmt.Errorf("%w: the log of %d entries (%s) is not a prefix of the log of %d entries (%s): %v",
			ErrInconsistent, old.N, old.Hash, new.N, new.Hash, err)
	}
	return nil
}

// Witness is what a witness runs on each new checkpoint: it opens next
// (and prev, the checkpoint it kept, unless prev is nil) with the
// verifier keys, checks they are of the same log, and checks with
// CheckConsistency that next extends prev by proof. It returns next's
// origin and tree, to keep next if err is nil.
func Witness(prev, next []byte, proof tlog.TreeProof, verifiers ...string) (origin string, tree tlog.Tree, err error) {
	origin, tree, err = ParseCheckpoint(next, verifiers...)
	if err != nil {
		return "", tlog.Tree{}, fmt.Errorf("new %w", err)
	}
	var old tlog.Tree
	if prev != nil {
		var oldOrigin string
		oldOrigin, old, err = ParseCheckpoint(prev, verifiers...)
		if err != nil {
			return "", tlog.Tree{}, fmt.Errorf("kept %w", err)
		}
		if oldOrigin != origin {
			return "", tlog.Tree{}, fmt.Errorf("the new checkpoint is of log %q, the kept one of log %q", origin, oldOrigin)
		}
	}
	if err := CheckConsistency(old, tree, proof); err != nil {
		return "", tlog.Tree{}, err
	}
	return origin, tree, nil
}
