package deconflict

import "time"

// SigningKey is a key the mechanism signs its log checkpoints with, in
// the signed-note format of golang.org/x/mod/sumdb/note. Signer is the
// secret half ("PRIVATE+KEY+..."), never shown; Verifier the public half.
// The newest key not retired signs; retired keys still verify the
// checkpoints they signed.
type SigningKey struct {
	Name      string     `json:"name"`
	Verifier  string     `json:"verifier"`
	Signer    string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at"`
}
