package record

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// The kinds of acknowledgement a party signs (AckText).
const (
	AckOperation = "operation" // a receipt of a version of an operation
	AckConflict  = "conflict"  // an acknowledgement of a conflict
)

// ackHeader is the first line of an acknowledgement's text.
const ackHeader = "deconflict acknowledgement"

// AckText is the text a party signs to acknowledge, as a signed note
// (golang.org/x/mod/sumdb/note) with its own key:
//
//	deconflict acknowledgement
//	operation <id>
//	version <version>
//	party <party>
//
// for a receipt of version of operation id (kind AckOperation), and
//
//	deconflict acknowledgement
//	conflict <id>
//	party <party>
//
// for conflict id (kind AckConflict; version is ignored). AckText does not
// check its arguments; SignAck and OpenAck do.
func AckText(kind, id string, version int, party string) string {
	if kind == AckOperation {
		return fmt.Sprintf("%s\n%s %s\nversion %d\nparty %s\n", ackHeader, kind, id, version, party)
	}
	return fmt.Sprintf("%s\n%s %s\nparty %s\n", ackHeader, kind, id, party)
}

// checkAck checks the arguments of an acknowledgement's text.
func checkAck(kind, id string, version int, party string) error {
	word := func(what, s string) error {
		if s == "" || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			return fmt.Errorf("acknowledgement: %s %q must be non-empty, without spaces", what, s)
		}
		return nil
	}
	switch kind {
	case AckOperation:
		if version < 1 {
			return fmt.Errorf("acknowledgement: version %d of an operation is not 1 or more", version)
		}
	case AckConflict:
	default:
		return fmt.Errorf("acknowledgement: kind %q is neither %q nor %q", kind, AckOperation, AckConflict)
	}
	if err := word(kind+" ID", id); err != nil {
		return err
	}
	return word("party", party)
}

// keyOf reports whether a key named name may be a key of party: its name
// is the party's ID or starts with the ID and '-'.
func keyOf(party, name string) bool {
	return party != "" && (name == party || strings.HasPrefix(name, party+"-"))
}

// CheckPartyKey checks that verifier is a signed-note verifier key
// ("name+hash+base64", note.NewVerifier) that may be a key of party:
// its name is the party's ID or starts with "<party>-". It returns the
// key's name.
func CheckPartyKey(party, verifier string) (name string, err error) {
	v, err := note.NewVerifier(verifier)
	if err != nil {
		return "", fmt.Errorf("not a signed-note public key: %v", err)
	}
	if !keyOf(party, v.Name()) {
		return "", fmt.Errorf("the key's name %q is not %q and does not start with %q: it is not a key of party %s",
			v.Name(), party, party+"-", party)
	}
	return v.Name(), nil
}

// NewPartyKey makes an Ed25519 key pair for party to sign its
// acknowledgements with, in the signed-note formats: signer
// ("PRIVATE+KEY+name+…", kept by the party, for SignAck) and verifier
// ("name+hash+…", registered with the mechanism). The key's name is party
// if suffix is empty, else "<party>-<suffix>".
func NewPartyKey(party, suffix string) (signer, verifier string, err error) {
	name := party
	if suffix != "" {
		name += "-" + suffix
	}
	if err := checkOrigin(name); err != nil {
		return "", "", err
	}
	return note.GenerateKey(rand.Reader, name)
}

// SignAck signs the acknowledgement (AckText) of kind, id, version by
// party with signerKey, the party's private key in the note format
// ("PRIVATE+KEY+name+…", note.NewSigner), whose name must be the party's
// ID or start with "<party>-". It returns the signed note: the text, a
// blank line and the signature line.
func SignAck(signerKey, kind, id string, version int, party string) (string, error) {
	if err := checkAck(kind, id, version, party); err != nil {
		return "", err
	}
	s, err := note.NewSigner(signerKey)
	if err != nil {
		return "", fmt.Errorf("acknowledgement: signing key: %v", err)
	}
	if !keyOf(party, s.Name()) {
		return "", fmt.Errorf("acknowledgement: the signing key %s is not a key of party %s (its name must be %q or start with %q)",
			s.Name(), party, party, party+"-")
	}
	msg, err := note.Sign(&note.Note{Text: AckText(kind, id, version, party)}, s)
	if err != nil {
		return "", fmt.Errorf("acknowledgement: sign: %v", err)
	}
	return string(msg), nil
}

// OpenAck checks that signed is the acknowledgement (AckText) of kind,
// id, version by party, signed with one of verifiers, the party's
// registered keys (verifier keys in the note format; keys whose name is
// not the party's ID or "<party>-…" are ignored). It returns the name of
// the key that signed. Every signature line must be by one of those
// keys, once (canonicalSigs): a line note.Open would skip unchecked, by
// another key or repeating a key, fails. The error says what is wrong: no
// key of the party, a signature by a key that is not one of the party's,
// a signature that does not verify (the text was changed, or the
// signature forged), or a text that is not of this acknowledgement.
func OpenAck(signed string, kind, id string, version int, party string, verifiers []string) (keyName string, err error) {
	if err := checkAck(kind, id, version, party); err != nil {
		return "", err
	}
	var vs []note.Verifier
	var names []string
	seen := map[string]bool{}
	for _, k := range verifiers {
		if seen[k] {
			continue
		}
		seen[k] = true
		v, err := note.NewVerifier(k)
		if err != nil {
			return "", fmt.Errorf("signed acknowledgement: key %q of party %s: %v", k, party, err)
		}
		if !keyOf(party, v.Name()) {
			continue
		}
		vs = append(vs, v)
		names = append(names, fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()))
	}
	if len(vs) == 0 {
		return "", fmt.Errorf("signed acknowledgement: party %s has no key to check it with", party)
	}
	n, err := note.Open([]byte(signed), note.VerifierList(vs...))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case err == nil:
	case errors.As(err, &unverified):
		var by []string
		for _, s := range unverified.Note.UnverifiedSigs {
			by = append(by, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return "", fmt.Errorf("signed acknowledgement: it is signed by %s, not by a key of party %s (%s)",
			orNone(by), party, strings.Join(names, ", "))
	case errors.As(err, &invalid):
		return "", fmt.Errorf("signed acknowledgement: the signature by key %s+%08x does not verify: the text was changed after signing, or the signature is forged",
			invalid.Name, invalid.Hash)
	default:
		return "", fmt.Errorf("signed acknowledgement: not a signed note (%v)", err)
	}
	if err := canonicalSigs("signed acknowledgement", signed, n); err != nil {
		return "", err
	}
	if want := AckText(kind, id, version, party); n.Text != want {
		return "", fmt.Errorf("signed acknowledgement: the signed text is %s, not %s", quoteAck(n.Text), quoteAck(want))
	}
	return n.Sigs[0].Name, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no key"
	}
	return strings.Join(s, ", ")
}

// quoteAck shows an acknowledgement's text on one line.
func quoteAck(text string) string {
	return strconv.Quote(strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "; "))
}
