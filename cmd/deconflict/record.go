package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"golang.org/x/mod/sumdb/tlog"
)

// verify checks an evidence bundle offline and prints its timeline.
func (m *Main) verify(ctx context.Context, args []string) error {
	fs := m.newFlags("verify", "verify BUNDLE [--key PUBKEY] [--node-key PUBKEY|DESCRIPTOR|@FILE]...\n\nChecks every signature and proof of an evidence bundle, offline, and prints\nthe timeline. BUNDLE may be - for standard input. Without --key the bundle's\nown key is used, and the report says so. On a federation node's bundle it\nalso checks and prints the peer nodes' cosignatures of the log's checkpoints.\nGiven a peer's descriptor, not only its key, it also checks that the\nbundle names that node with the parties the descriptor says it hosts;\ngive every descriptor the node had, since a receipt names the parties\nits node hosted when it gave it.")
	key := fs.String("key", "", "the mechanism's public key (from 'deconflict key show' or GET /v1/log/key)")
	var nodeKeys []string
	nodes := map[string][][]string{} // the parties of each descriptor given, by key
	fs.Func("node-key", "a peer federation node's public key (the key of its descriptor), which its signed receipts and its cosignatures of the log must be made with, or its descriptor (the line 'federation init' printed, or @FILE), which also binds the key to the node's parties; repeat for each node, and for each descriptor a node had when it gave receipts or cosigned (a receipt must name the parties of one of them)", func(s string) error {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "{") && !strings.HasPrefix(s, "@") {
			nodeKeys = append(nodeKeys, s)
			return nil
		}
		text := []byte(s)
		if name, ok := strings.CutPrefix(s, "@"); ok {
			var err error
			if text, err = os.ReadFile(name); err != nil {
				return err
			}
		}
		d, err := federation.ParseDescriptor(bytes.TrimSpace(text))
		if err != nil {
			return err
		}
		nodeKeys, nodes[d.Key] = append(nodeKeys, d.Key), append(nodes[d.Key], d.Parties)
		return nil
	})
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	var raw []byte
	if pos[0] == "-" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(pos[0])
	}
	if err != nil {
		return fmt.Errorf("read bundle: %w", err)
	}
	var b record.Bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return fmt.Errorf("VERIFICATION FAILED: the bundle is not valid JSON: %v", err)
	}
	tl, err := record.Verify(&b, *key)
	if err != nil {
		return fmt.Errorf("VERIFICATION FAILED: %w", err)
	}
	if len(nodeKeys) > 0 {
		if err := tl.CheckNodeKeys(nodeKeys); err != nil {
			return fmt.Errorf("VERIFICATION FAILED: %w", err)
		}
		if err := tl.CheckNodeParties(nodes); err != nil {
			return fmt.Errorf("VERIFICATION FAILED: %w", err)
		}
	}
	return tl.Write(m.Stdout)
}

// key shows or rotates the mechanism's signing key.
func (m *Main) key(ctx context.Context, args []string) error {
	const help = "Usage:\n  deconflict key show [--store URL]     print the public key that signs checkpoints\n  deconflict key list [--store URL]     list every key, retired ones too\n  deconflict key rotate [--store URL]   make a new key; the old one still verifies old checkpoints\n"
	if err := m.subcommand(args, help, "show", "list", "rotate"); err != nil {
		return err
	}
	fs := m.newFlags("key "+args[0], "key "+args[0]+" [--store URL]")
	store := m.storeFlag(fs)
	if pos, err := m.parse(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 {
		fs.Usage()
		return errUsage
	}
	return withMechanism(ctx, *store, func(mech *mechanism.Mechanism) error {
		if err := mech.Load(ctx); err != nil {
			return err
		}
		if args[0] == "rotate" {
			k, err := mech.Record().RotateKey(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(m.Stdout, k.Verifier)
			fmt.Fprintln(m.Stderr, "new key in use; witnesses must be told the new key (deconflict witness --key)")
			return nil
		}
		keys, err := mech.Record().Keys(ctx)
		if err != nil {
			return err
		}
		if args[0] == "show" {
			for _, k := range keys {
				if k.RetiredAt == nil {
					fmt.Fprintln(m.Stdout, k.Verifier)
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tCREATED\tRETIRED")
		for _, k := range keys {
			retired := "-"
			if k.RetiredAt != nil {
				retired = k.RetiredAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Verifier, k.CreatedAt.Format(time.RFC3339), retired)
		}
		return tw.Flush()
	})
}

// witness checks that the log only ever grew since the last checkpoint
// it kept, and keeps the new one.
func (m *Main) witness(ctx context.Context, args []string) error {
	fs := m.newFlags("witness", "witness --server URL --token TOKEN --state DIR [--key PUBKEY]\n\nFetches the server's signed checkpoint, checks its signature and its\nconsistency with the last one kept in DIR, and keeps it. Exits non-zero on a\nbad signature, a fork, a rollback or a rewritten history. The first run\npins the server's key (or --key); a changed key needs --key NEWKEY.")
	client := m.clientFlags(fs)
	state := fs.String("state", "", "directory where the witness keeps its last checkpoint and the pinned key (required)")
	key := fs.String("key", "", "pin this public key (first run, or after a genuine key rotation)")
	if pos, err := m.parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *state == "" {
		fs.Usage()
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*state, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	keyFile, treeFile, cpFile := filepath.Join(*state, "key"), filepath.Join(*state, "tree"), filepath.Join(*state, "checkpoint")

	var served struct {
		Key string `json:"key"`
	}
	if err := c.Do(ctx, "GET", "/v1/log/key", nil, &served); err != nil {
		return fmt.Errorf("fetch key: %w", err)
	}
	pinned := readTrim(keyFile)
	switch {
	case *key != "":
		pinned = *key
	case pinned == "":
		pinned = served.Key
		fmt.Fprintf(m.Stderr, "witness: first run, pinning the server's key %s\n", pinned)
	case pinned != served.Key:
		return fmt.Errorf("FAILED: the server now signs with %s, not the pinned key %s; if the rotation is genuine, run again with --key %s", served.Key, pinned, served.Key)
	}
	msg, err := fetchText(ctx, strings.TrimRight(c.BaseURL, "/")+"/v1/log/checkpoint", c.Token)
	if err != nil {
		return alarmFailed(fmt.Errorf("fetch checkpoint: %w", err))
	}
	origin, tree, err := record.ParseCheckpoint(msg, pinned)
	if err != nil {
		return fmt.Errorf("FAILED: checkpoint does not verify: %w", err)
	}
	if old, ok := readTree(treeFile); ok && old.N > 0 {
		var proof tlog.TreeProof
		if tree.N > old.N {
			var body struct {
				Proof []tlog.Hash `json:"proof"`
			}
			if err := c.Do(ctx, "GET", fmt.Sprintf("/v1/log/proof/consistency?from=%d&to=%d", old.N, tree.N), nil, &body); err != nil {
				return alarmFailed(fmt.Errorf("fetch consistency proof: %w", err))
			}
			proof = body.Proof
		}
		if err := record.CheckConsistency(old, tree, proof); err != nil {
			return fmt.Errorf("FAILED: %w (kept checkpoint: size %d; served: size %d)", err, old.N, tree.N)
		}
		fmt.Fprintf(m.Stdout, "ok: %s log grew from %d to %d entries, consistent with the checkpoint kept\n", origin, old.N, tree.N)
	} else {
		fmt.Fprintf(m.Stdout, "ok: %s log at %d entries; checkpoint kept as the first\n", origin, tree.N)
	}
	if err := writeAtomic(keyFile, []byte(pinned+"\n")); err != nil {
		return err
	}
	if err := writeAtomic(cpFile, msg); err != nil {
		return err
	}
	return writeAtomic(treeFile, []byte(fmt.Sprintf("%d\n%s\n", tree.N, tree.Hash)))
}

// alarmFailed makes a failed fetch a witness failure when the server
// answered with its integrity alarm: its stored log does not verify, which
// is what a witness watches for, not a passing outage.
func alarmFailed(err error) error {
	if strings.Contains(err.Error(), "integrity alarm") {
		return fmt.Errorf("FAILED: the server's stored log does not verify (%w)", err)
	}
	return err
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func readTree(path string) (tlog.Tree, bool) {
	lines := strings.Fields(readTrim(path))
	if len(lines) != 2 {
		return tlog.Tree{}, false
	}
	var t tlog.Tree
	if _, err := fmt.Sscan(lines[0], &t.N); err != nil {
		return t, false
	}
	h, err := tlog.ParseHash(lines[1])
	if err != nil {
		return t, false
	}
	t.Hash = h
	return t, true
}

// writeAtomic replaces a file so that a crash leaves the old or the new one.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// fetchTimeout bounds each request of witness: run from cron against a
// server that accepts and never answers, it must fail, not pile up.
const fetchTimeout = 30 * time.Second

func fetchText(ctx context.Context, url, token string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return nil, errors.New("server answered " + resp.Status + ": " + e.Error.Message)
		}
		return nil, errors.New("server answered " + resp.Status)
	}
	return body, nil
}
