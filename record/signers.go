package record

import (
	"sync"

	"golang.org/x/mod/sumdb/note"
)

// noteSigners keeps the note signers of the last few signer keys parsed:
// parsing a key derives its Ed25519 public half, which costs about as
// much as a signature, and a node signs with the same key over and over
// (every receipt, checkpoint, request and reply).
var noteSigners = struct {
	sync.Mutex
	byKey map[string]note.Signer
}{byKey: map[string]note.Signer{}}

// maxNoteSigners bounds noteSigners: a process holds a handful of keys
// (its node's, and while a rotation is under way, the one before).
const maxNoteSigners = 16

// NoteSigner returns the note.Signer of a signer key ("PRIVATE+KEY+…",
// note.NewSigner), parsing each key once. A note.Signer from
// note.NewSigner keeps no state between signatures, so one serves every
// caller at once.
func NoteSigner(signerKey string) (note.Signer, error) {
	noteSigners.Lock()
	s, ok := noteSigners.byKey[signerKey]
	noteSigners.Unlock()
	if ok {
		return s, nil
	}
	s, err := note.NewSigner(signerKey)
	if err != nil {
		return nil, err
	}
	noteSigners.Lock()
	if len(noteSigners.byKey) >= maxNoteSigners {
		clear(noteSigners.byKey)
	}
	noteSigners.byKey[signerKey] = s
	noteSigners.Unlock()
	return s, nil
}
