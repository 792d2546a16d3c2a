package record

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A federation node's peers witness its log: each cosigns (C2SP
// tlog-cosignature, see Cosign) the checkpoints of the node's log it
// verified, and passes the cosignature back. A bundle built on such a
// node carries them (Bundle.Witnessed), so that whoever verifies it sees
// which other nodes vouch for the history its entries are in: a log that
// rewrote those entries afterwards could not show the same cosigned
// checkpoints.

// witnessesHeader is the first line of the text of Witnessed.Witnesses.
const witnessesHeader = "deconflict witnesses v1"

// Witnessed is what a bundle carries of the peer nodes' cosignatures of
// the log.
//
// Witnesses is a signed note, by the log's keys, naming each peer node
// whose cosignature follows: its text is
//
//	deconflict witnesses v1
//	origin
//	KEY PARTY[,PARTY…]
//	KEY earlier PARTY[,PARTY…]
//	…
//
// one line for each node, with its verifier key (the key of its
// descriptor) and the parties it hosts, followed by one "earlier" line
// for each other set of parties the log's node trusted that key with
// before (the node's earlier descriptors): the receipts the node gave
// while it hosted those name them. The log's signature binds the names
// to the keys; that the key is the node's own is for the verifier to
// check with a key it obtained from that node (Timeline.CheckNodeKeys),
// and that it hosted those parties, with its descriptors
// (Timeline.CheckNodeParties).
type Witnessed struct {
	Witnesses   string               `json:"witnesses"`
	Checkpoints []CosignedCheckpoint `json:"checkpoints"`
}

// CosignedCheckpoint is a checkpoint of the log, signed by the log's keys
// like the bundle's own, followed by the cosignature lines of the nodes
// that cosigned it (the C2SP witness format: note.Open with the log's
// verifier and CosignatureVerifier of each node opens it). Proof is the
// consistency proof between its tree and the tree of the bundle's
// checkpoint, from the smaller to the larger (empty when they are of one
// size).
type CosignedCheckpoint struct {
	Checkpoint string         `json:"checkpoint"`
	Proof      tlog.TreeProof `json:"proof"`
}

// PeerWitness is a peer node's latest cosignature of this log as the node
// holds it: the peer's verifier key, the parties it hosts, the other sets
// of parties the node trusted the key with before (dc.Peer.Hosted), and
// the checkpoint it cosigned, with its cosignature line (dc.Peer.Witness).
type PeerWitness struct {
	Key      string
	Parties  []string
	Hosted   [][]string
	Cosigned string
}

// AddWitnessed sets b.Witnessed from the peers' cosignatures of the log
// read from l (whose first entries b was built from), signing with
// signers as BuildBundle does. A cosignature is carried only if it
// verifies, with its peer's key, over this log's own checkpoint of the
// size it names: one of another history, or of a size beyond the log, is
// left out. A peer may have cosigned a larger tree than b's when the log
// grew after b was built; the proof then leads from b's tree to it.
// Without a cosignature to carry b is left as it is.
func AddWitnessed(ctx context.Context, l Log, b *Bundle, signers []*dc.SigningKey, peers []PeerWitness) error {
	_, tree, err := ParseCheckpoint([]byte(b.Checkpoint), b.Key)
	if err != nil {
		return fmt.Errorf("witnessed checkpoints: %w", err)
	}
	cl := Checked(l)
	lines := map[int64][]string{} // cosignature lines by tree size
	texts := map[int64][]byte{}
	var listed []PeerWitness
	for _, p := range peers {
		size, ok := cosignedSize(p.Cosigned)
		if !ok || size < 1 {
			continue
		}
		text, ok := texts[size]
		if !ok {
			h, err := TreeHash(ctx, cl, size)
			if err != nil {
				continue // beyond the log as far as it is stored
			}
			text = formatCheckpoint(b.Origin, tlog.Tree{N: size, Hash: h})
			texts[size] = text
		}
		line, _, err := cosignatureOver([]byte(p.Cosigned), text, p.Key)
		if err != nil {
			continue
		}
		lines[size] = append(lines[size], line)
		listed = append(listed, p)
	}
	if len(listed) == 0 {
		return nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n%s\n", witnessesHeader, b.Origin)
	for _, p := range listed {
		fmt.Fprintf(&sb, "%s %s\n", p.Key, strings.Join(p.Parties, ","))
		for _, h := range p.Hosted {
			if len(h) > 0 {
				fmt.Fprintf(&sb, "%s %s %s\n", p.Key, earlierWord, strings.Join(h, ","))
			}
		}
	}
	ws, err := signNote([]byte(sb.String()), signers)
	if err != nil {
		return fmt.Errorf("witnessed checkpoints: %w", err)
	}
	w := &Witnessed{Witnesses: string(ws), Checkpoints: []CosignedCheckpoint{}}
	sizes := make([]int64, 0, len(lines))
	for s := range lines {
		sizes = append(sizes, s)
	}
	slices.Sort(sizes)
	for _, size := range sizes {
		cp, err := signNote(texts[size], signers)
		if err != nil {
			return fmt.Errorf("witnessed checkpoints: %w", err)
		}
		for _, line := range lines[size] {
			cp = append(cp, line+"\n"...)
		}
		from, to := min(size, tree.N), max(size, tree.N)
		proof, err := CheckedConsistencyProof(ctx, l, from, to)
		if err != nil {
			return fmt.Errorf("witnessed checkpoints: %w", err)
		}
		if proof == nil {
			proof = tlog.TreeProof{}
		}
		w.Checkpoints = append(w.Checkpoints, CosignedCheckpoint{Checkpoint: string(cp), Proof: proof})
	}
	b.Witnessed = w
	return nil
}

// cosignedSize reads the tree size of a checkpoint's text, without
// checking any signature.
func cosignedSize(msg string) (int64, bool) {
	lines := strings.SplitN(msg, "\n", 4)
	if len(lines) < 4 {
		return 0, false
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	return n, err == nil
}

// Cosignature is a peer node's cosignature of a checkpoint of the log,
// verified by Verify: the node, named by its key and the parties it
// hosts, says it verified the log of Size entries at At. Hosted are the
// other sets of parties the witnesses list says the key hosted before.
type Cosignature struct {
	Size    int64
	Parties []string
	Hosted  [][]string
	Key     string
	At      time.Time
}

// witness is a node the witnesses note lists.
type witness struct {
	key      string
	parties  []string
	hosted   [][]string
	verifier note.Verifier
}

// earlierWord marks a line of the witnesses list that names a set of
// parties a node hosted before: a party ID is one word, so a line of
// three words cannot be a node's own line.
const earlierWord = "earlier"

// parseWitnesses opens the witnesses note with the log's key and reads
// the nodes it lists.
func parseWitnesses(msg, key, origin string) ([]witness, error) {
	n, err := openNote("witnesses list", []byte(msg), []string{key})
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 || lines[0] != witnessesHeader {
		return nil, fmt.Errorf("witnesses list: %w: not a %q naming at least one node", ErrMalformed, witnessesHeader)
	}
	if lines[1] != origin {
		return nil, fmt.Errorf("witnesses list: of log %q, the checkpoint of log %q", lines[1], origin)
	}
	return parseWitnessLines(lines[2:])
}

// parseWitnessLines reads the node lines of the witnesses list: each
// node's own line, then any "earlier" lines of that node.
func parseWitnessLines(lines []string) ([]witness, error) {
	var out []witness
	seen := map[string]int{} // index in out, by key
	for _, l := range lines {
		f := strings.Split(l, " ")
		switch {
		case len(f) == 2 && f[0] != "" && f[1] != "":
			if _, dup := seen[f[0]]; dup {
				return nil, fmt.Errorf("witnesses list: %w: a second line for the node of key %s: %q", ErrMalformed, f[0], l)
			}
			v, err := CosignatureVerifier(f[0])
			if err != nil {
				return nil, fmt.Errorf("witnesses list: the key of line %q: %v", l, err)
			}
			seen[f[0]] = len(out)
			out = append(out, witness{key: f[0], parties: strings.Split(f[1], ","), verifier: v})
		case len(f) == 3 && f[1] == earlierWord && f[2] != "":
			i, ok := seen[f[0]]
			if !ok {
				return nil, fmt.Errorf("witnesses list: %w: line %q names earlier parties of a node not listed before it", ErrMalformed, l)
			}
			out[i].hosted = append(out[i].hosted, strings.Split(f[2], ","))
		default:
			return nil, fmt.Errorf("witnesses list: %w: bad line %q", ErrMalformed, l)
		}
	}
	return out, nil
}

// verifyWitnessed checks the cosigned checkpoints of a bundle whose
// checkpoint is of tree in log origin, signed with key, and returns the
// cosignatures, by tree size. Each checkpoint must be signed by key, of
// the same log, consistent with tree by its proof, and carry at least one
// cosignature; every signature line of it must be the log's or a
// cosignature by a node the witnesses note lists, and verify; and every
// node the note lists must have cosigned one of them.
func verifyWitnessed(w *Witnessed, key, origin string, tree tlog.Tree) ([]Cosignature, error) {
	ws, err := parseWitnesses(w.Witnesses, key, origin)
	if err != nil {
		return nil, err
	}
	logV, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("witnessed checkpoints: key %q: %v", key, err)
	}
	vs := []note.Verifier{logV}
	for _, x := range ws {
		vs = append(vs, x.verifier)
	}
	if len(w.Checkpoints) == 0 {
		return nil, fmt.Errorf("witnessed checkpoints: none, but the witnesses list names %d node(s)", len(ws))
	}
	out := []Cosignature{}
	for i, c := range w.Checkpoints {
		what := fmt.Sprintf("witnessed checkpoint #%d", i+1)
		o, t, err := ParseCheckpoint([]byte(c.Checkpoint), key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if o != origin {
			return nil, fmt.Errorf("%s: of log %q, the bundle's checkpoint of log %q", what, o, origin)
		}
		small, large := t, tree
		if t.N > tree.N {
			small, large = tree, t
		}
		if t.N < 1 {
			return nil, fmt.Errorf("%s: %w: a checkpoint of no entries vouches for nothing", what, ErrMalformed)
		}
		if t.N == tree.N && len(c.Proof) > 0 {
			return nil, fmt.Errorf("%s: %w: a proof between two checkpoints of %d entries, which need none", what, ErrMalformed, t.N)
		}
		if err := CheckConsistency(small, large, c.Proof); err != nil {
			return nil, fmt.Errorf("%s (of %d entries) and the bundle's checkpoint (of %d entries): %w", what, t.N, tree.N, err)
		}
		n, err := note.Open([]byte(c.Checkpoint), note.VerifierList(vs...))
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &invalid):
			return nil, fmt.Errorf("%s: %w: the signature by %s+%08x does not verify: the checkpoint or the signature was changed", what, ErrBadSignature, invalid.Name, invalid.Hash)
		case err != nil:
			return nil, fmt.Errorf("%s: %w: %v", what, ErrMalformed, err)
		case len(n.UnverifiedSigs) > 0:
			return nil, fmt.Errorf("%s: %w: a signature line by %s+%08x, which is neither the log's key nor a node the witnesses list names",
				what, ErrUnknownKey, n.UnverifiedSigs[0].Name, n.UnverifiedSigs[0].Hash)
		}
		if err := canonicalSigs(what, c.Checkpoint, n); err != nil {
			return nil, err
		}
		found := 0
		for _, s := range n.Sigs {
			blob, _ := base64.StdEncoding.DecodeString(s.Base64)
			for _, x := range ws {
				if x.verifier.Name() != s.Name || x.verifier.KeyHash() != s.Hash {
					continue
				}
				found++
				ts := binary.BigEndian.Uint64(blob[4:12])
				out = append(out, Cosignature{Size: t.N, Parties: x.parties, Hosted: x.hosted, Key: x.key, At: time.Unix(int64(ts), 0).UTC()})
			}
		}
		if found == 0 {
			return nil, fmt.Errorf("%s: it carries no cosignature", what)
		}
	}
	for _, x := range ws {
		if !slices.ContainsFunc(out, func(c Cosignature) bool { return c.Key == x.key }) {
			return nil, fmt.Errorf("witnessed checkpoints: the witnesses list names the node of %s (key %s), but no checkpoint carries its cosignature: one was dropped",
				strings.Join(x.parties, ", "), x.key)
		}
	}
	return out, nil
}
