package record

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// formatManifest writes the text of a bundle's manifest (see Bundle),
// which the checkpoint's keys sign: the log, the operation, the tree and
// the storage indexes of the entries the bundle carries.
func formatManifest(origin, opID string, tree tlog.Tree, entries []Entry) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n%s\n%s\n%d\n%s\n", manifestHeader, origin, opID, tree.N, tree.Hash)
	for _, e := range entries {
		fmt.Fprintf(&sb, "%d\n", e.Index)
	}
	return []byte(sb.String())
}

// manifest is a parsed manifest.
type manifest struct {
	origin, op string
	tree       tlog.Tree
	indexes    []int64
}

func parseManifest(text string) (*manifest, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 5 || lines[0] != manifestHeader {
		return nil, fmt.Errorf("manifest: %w: not a %q", ErrMalformed, manifestHeader)
	}
	m := &manifest{origin: lines[1], op: lines[2]}
	var err error
	if m.tree.N, err = strconv.ParseInt(lines[3], 10, 64); err != nil {
		return nil, fmt.Errorf("manifest: %w: bad tree size %q", ErrMalformed, lines[3])
	}
	if m.tree.Hash, err = tlog.ParseHash(lines[4]); err != nil {
		return nil, fmt.Errorf("manifest: %w: bad tree hash %q", ErrMalformed, lines[4])
	}
	for _, l := range lines[5:] {
		i, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("manifest: %w: bad index %q", ErrMalformed, l)
		}
		m.indexes = append(m.indexes, i)
	}
	return m, nil
}
