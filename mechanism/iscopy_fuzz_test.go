package mechanism

import (
	"bytes"
	"encoding/json"
	"testing"

	dc "github.com/deconflict/deconflict"
)

// FuzzIsCopy: isCopy finds a copy only in a body in which a peer
// applying the entry with encoding/json (federation's entryBody) finds
// "replicated", so that the node withholds only what the peer would
// skip; and in every such body that names "replicated" so, as
// json.Marshal writes it (withOrigin).
func FuzzIsCopy(f *testing.F) {
	for _, s := range []string{
		`{"node_receipt":{"operation":"x"},"replicated":{"node":"k","index":3,"leaf_hash":"aGFzaA=="}}`,
		`{"replicated":null}`,
		`{"replicated":{}}`,
		`{"Replicated":{"node":"k"}}`,
		`{"REPLICATED":{"node":"k"},"replicated":null}`,
		`{"replicated":{"node":"k"},"Replicated":null}`,
		`{"replicated":{"node":"k"},"replicated":null}`,
		`{"replicated":null,"replicated":{"index":1}}`,
		`{"replicated":{"index":"1"}}`,
		`{"replicated":[1]}`,
		`{"replicated":{"node":"k"}} `,
		`{"replicated":{"node":"k"}}x`,
		"{\"replicated\":{\"node\":\"\xff\"}}",
		`{"replicated":{"node":"\ud800"}}`,
		`{"replicated":{"node":1e400}}`,
		`{"ſeplicated":{"node":"k"}}`,
		`{"replicated":{"index":1.5}}`,
		`[{"replicated":{}}]`,
		`"replicated"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b struct {
			Replicated *PeerOrigin `json:"replicated"`
		}
		want := json.Unmarshal(data, &b) == nil && b.Replicated != nil
		if got := isCopy(&dc.Event{Data: data}); got && !want || !got && want && bytes.Contains(data, replicatedKey) {
			t.Fatalf("isCopy = %v, encoding/json finds a copy: %v, in %q", got, want, data)
		}
	})
}
