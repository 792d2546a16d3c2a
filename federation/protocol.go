package federation

import (
	"encoding/base64"
	"fmt"
	"io"

	jsonv2 "github.com/go-json-experiment/json"
	"golang.org/x/mod/sumdb/tlog"
)

// LogPath is the peer protocol's one endpoint: GET
// LogPath?from=N&limit=L&wait=S answers a LogPage of the node's log from
// entry N on, waiting up to S seconds for entries when it has none yet.
const LogPath = "/federation/v1/log"

// LogPage is a page of a node's log as one peer may see it.
type LogPage struct {
	// Checkpoint is the node's signed checkpoint of its log up to the
	// last entry of the page (of its whole log when the page is empty).
	Checkpoint string `json:"checkpoint"`
	// Size is the node's log size when it answered (a hint: how far
	// behind the peer is; only the checkpoint is signed).
	Size    int64       `json:"size"`
	Entries []WireEntry `json:"entries"`
	// Witnessed are the latest checkpoints of the node's other peers, as
	// the node verified and cosigned them: the puller checks them against
	// its own view of those logs, so a node that shows two peers two
	// histories is caught.
	Witnessed []string `json:"witnessed,omitempty"`
}

// WireEntry is one entry of a LogPage: Data, the entry's bytes, when the
// peer may see it, else only its LeafHash (base64).
type WireEntry struct {
	Index    int64   `json:"index"`
	Data     *string `json:"data,omitempty"`
	LeafHash string  `json:"leaf_hash,omitempty"`
}

// MaxPage is the largest LogPage body a node reads, in bytes.
const MaxPage = 64 << 20

// DecodePage reads a LogPage strictly — one JSON object of at most
// MaxPage bytes, its names exactly as LogPage spells them, none unknown
// or repeated, its strings valid UTF-8 — and checks its form: every entry
// has exactly one of data and a leaf hash, and the indexes are
// consecutive. It does not check signatures or hashes. (It decodes with
// go-json-experiment/json, which reads a page's entries, JSON escaped in
// JSON strings, in about half the time encoding/json takes.)
func DecodePage(r io.Reader) (*LogPage, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxPage+1))
	if err != nil {
		return nil, fmt.Errorf("log page: %v", err)
	}
	return decodePage(b)
}

// decodePage is DecodePage of a body already read.
func decodePage(b []byte) (*LogPage, error) {
	if len(b) > MaxPage {
		return nil, fmt.Errorf("log page: larger than %d bytes", MaxPage)
	}
	var p LogPage
	if err := jsonv2.Unmarshal(b, &p, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("log page: %v", err)
	}
	if p.Size < 0 {
		return nil, fmt.Errorf("log page: negative size")
	}
	for i, e := range p.Entries {
		if i > 0 && e.Index != p.Entries[i-1].Index+1 {
			return nil, fmt.Errorf("log page: entries[%d]: index %d does not follow %d", i, e.Index, p.Entries[i-1].Index)
		}
		if e.Index < 0 {
			return nil, fmt.Errorf("log page: entries[%d]: negative index", i)
		}
		if (e.Data == nil) == (e.LeafHash == "") {
			return nil, fmt.Errorf("log page: entries[%d]: want exactly one of data and leaf_hash", i)
		}
		if e.Data == nil {
			if _, err := decodeHash(e.LeafHash); err != nil {
				return nil, fmt.Errorf("log page: entries[%d].leaf_hash: %v", i, err)
			}
		}
	}
	return &p, nil
}

// leaf returns the entry's leaf hash and bytes (nil when withheld).
func (e *WireEntry) leaf() (tlog.Hash, []byte, error) {
	if e.Data != nil {
		data := []byte(*e.Data)
		return tlog.RecordHash(data), data, nil
	}
	h, err := decodeHash(e.LeafHash)
	return h, nil, err
}

func decodeHash(s string) (tlog.Hash, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		return tlog.Hash{}, fmt.Errorf("not a base64 SHA-256 hash")
	}
	var h tlog.Hash
	copy(h[:], b)
	return h, nil
}

// writePage writes a page as JSON to w, in one Write (appendPage).
func writePage(w io.Writer, p *LogPage) error {
	n := 256
	for _, e := range p.Entries {
		n += 64
		if e.Data != nil {
			n += len(*e.Data) * 5 / 4 // a record's quotes are escaped
		}
	}
	_, err := w.Write(appendPage(make([]byte, 0, n), p))
	return err
}
