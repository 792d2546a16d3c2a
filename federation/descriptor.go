package federation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	dc "github.com/deconflict/deconflict"

	"golang.org/x/mod/sumdb/note"
)

// Descriptor is what a node tells its peers about itself: the parties it
// hosts, where it is reached, and its public key (a signed-note verifier
// string). `deconflict federation init` prints it as one line of JSON.
//
// Area, if given, is the airspace its parties fly in, as boxes: while the
// node is silent, its peers refuse without a head's override only the
// activations that could meet that area (or the operations of its they
// hold). Without it the node's airspace is everywhere.
type Descriptor struct {
	Parties []string `json:"parties"`
	URL     string   `json:"url"`
	Key     string   `json:"key"`
	Area    []dc.Box `json:"area,omitempty"`
}

// MaxAreaBoxes is the most boxes a descriptor's area may have.
const MaxAreaBoxes = 100

// MaxDescriptor is the largest descriptor accepted, in bytes.
const MaxDescriptor = 64 << 10

var partyPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// ParseDescriptor reads a descriptor strictly: one JSON object, no
// unknown or duplicate fields, every field valid.
func ParseDescriptor(b []byte) (*Descriptor, error) {
	if len(b) > MaxDescriptor {
		return nil, fmt.Errorf("descriptor: longer than %d bytes", MaxDescriptor)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	// The area is read as lists of numbers, so that a box of the wrong
	// length is named by its place.
	var wire struct {
		Descriptor
		Area [][]float64 `json:"area"`
	}
	if err := dec.Decode(&wire); err != nil {
		return nil, fmt.Errorf("descriptor: not the JSON line `federation init` prints: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("descriptor: text after the JSON object")
	}
	d := wire.Descriptor
	if wire.Area != nil {
		d.Area = make([]dc.Box, len(wire.Area))
	}
	for i, v := range wire.Area {
		if len(v) != 4 {
			return nil, fmt.Errorf("descriptor: area[%d]: a box is [min_lng, min_lat, max_lng, max_lat], not %d numbers", i, len(v))
		}
		d.Area[i] = dc.Box(v)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate checks the parties, the URL and the key.
func (d *Descriptor) Validate() error {
	if len(d.Parties) == 0 {
		return fmt.Errorf("descriptor: parties: a node hosts at least one party")
	}
	seen := map[string]bool{}
	for i, p := range d.Parties {
		if !partyPattern.MatchString(p) {
			return fmt.Errorf("descriptor: parties[%d]: %q is not a party ID", i, p)
		}
		if seen[p] {
			return fmt.Errorf("descriptor: parties[%d]: %q appears twice", i, p)
		}
		seen[p] = true
	}
	if err := checkURL(d.URL); err != nil {
		return fmt.Errorf("descriptor: url: %v", err)
	}
	if _, err := verifierOf(d.Key); err != nil {
		return fmt.Errorf("descriptor: key: %v", err)
	}
	if d.Area != nil && len(d.Area) == 0 {
		return fmt.Errorf("descriptor: area: give at least one box, or leave area out (anywhere)")
	}
	if len(d.Area) > MaxAreaBoxes {
		return fmt.Errorf("descriptor: area: more than %d boxes", MaxAreaBoxes)
	}
	for i, b := range d.Area {
		if err := b.Validate(); err != nil {
			return fmt.Errorf("descriptor: area[%d]: %v", i, err)
		}
	}
	return nil
}

// ParseBox reads a box written min_lng,min_lat,max_lng,max_lat (the
// --area of `federation init`) and checks it.
func ParseBox(s string) (dc.Box, error) {
	var b dc.Box
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return b, fmt.Errorf("%q: want min_lng,min_lat,max_lng,max_lat in degrees", s)
	}
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return b, fmt.Errorf("%q: %q is not a number", s, p)
		}
		b[i] = v
	}
	return b, b.Validate()
}

// String returns the descriptor as one line of JSON.
func (d *Descriptor) String() string {
	b, _ := json.Marshal(d)
	return string(b)
}

// checkURL accepts an absolute http or https URL without user info,
// query or fragment.
func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: want an http:// or https:// URL", s)
	case u.Host == "":
		return fmt.Errorf("%q: no host", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q: no user, query or fragment", s)
	}
	return nil
}

// verifierOf parses a signed-note verifier key and accepts only Ed25519
// keys.
func verifierOf(key string) (note.Verifier, error) {
	if strings.ContainsAny(key, "\"\\") {
		return nil, fmt.Errorf("malformed verifier key")
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("not a signed-note verifier key: %v", err)
	}
	return v, nil
}
