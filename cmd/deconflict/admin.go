package main

import (
	"context"
	"fmt"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
)

// withMechanism opens the store named by url, runs fn and closes the store.
func withMechanism(ctx context.Context, url string, fn func(*mechanism.Mechanism) error) error {
	store, err := openStore(ctx, url)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(mechanism.New(store, mechanism.Options{}))
}

func (m *Main) party(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "key" {
		return m.partyKey(ctx, args[1:])
	}
	if err := m.subcommand(args, partyUsage, "add", "list"); err != nil {
		return err
	}
	if args[0] == "list" {
		return m.list(ctx, "party list", args[1:], "ID\tNAME\tCREATED", func(mech *mechanism.Mechanism) ([]string, error) {
			ps, err := mech.Access().Parties(ctx)
			rows := make([]string, len(ps))
			for i, p := range ps {
				rows[i] = fmt.Sprintf("%s\t%s\t%s", p.ID, p.Name, p.CreatedAt.Format(time.RFC3339))
			}
			return rows, err
		})
	}
	fs := m.newFlags("party add", "party add ID [--name NAME] [--store URL]")
	name := fs.String("name", "", "display name of the party (default: its ID)")
	store := m.storeFlag(fs)
	pos, err := m.parseN(fs, args[1:], 1)
	if err != nil {
		return err
	}
	return withMechanism(ctx, *store, func(mech *mechanism.Mechanism) error {
		p, err := mech.Access().AddParty(ctx, pos[0], *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "party %s (%s) added\n", p.ID, p.Name)
		return nil
	})
}

func (m *Main) token(ctx context.Context, args []string) error {
	const help = "Usage:\n  deconflict token issue --role ROLE [--party ID] [--label TEXT] [--store URL]\n  deconflict token list [--store URL]\n  deconflict token revoke ID [--store URL]\n"
	if err := m.subcommand(args, help, "issue", "list", "revoke"); err != nil {
		return err
	}
	switch args[0] {
	case "list":
		return m.list(ctx, "token list", args[1:], "ID\tROLE\tPARTY\tLABEL\tCREATED\tREVOKED", func(mech *mechanism.Mechanism) ([]string, error) {
			toks, err := mech.Access().Tokens(ctx)
			rows := make([]string, len(toks))
			for i, t := range toks {
				revoked := "-"
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.Format(time.RFC3339)
				}
				party := t.Party
				if party == "" {
					party = "-"
				}
				rows[i] = fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", t.ID, t.Role, party, t.Label, t.CreatedAt.Format(time.RFC3339), revoked)
			}
			return rows, err
		})
	case "revoke":
		fs := m.newFlags("token revoke", "token revoke ID [--store URL]")
		store := m.storeFlag(fs)
		pos, err := m.parseN(fs, args[1:], 1)
		if err != nil {
			return err
		}
		return withMechanism(ctx, *store, func(mech *mechanism.Mechanism) error {
			if err := mech.Access().RevokeToken(ctx, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(m.Stderr, "token %s revoked\n", pos[0])
			return nil
		})
	}
	fs := m.newFlags("token issue", "token issue --role ROLE [--party ID] [--label TEXT] [--store URL]")
	role := fs.String("role", "", "operator, liaison, head, observer or admin (required)")
	party := fs.String("party", "", "the party the token acts for (every role but admin)")
	label := fs.String("label", "", "a note saying who holds the token")
	store := m.storeFlag(fs)
	pos, err := m.parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 || *role == "" {
		fs.Usage()
		return errUsage
	}
	return withMechanism(ctx, *store, func(mech *mechanism.Mechanism) error {
		secret, tok, err := mech.Access().IssueToken(ctx, dc.Role(*role), *party, *label)
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, secret)
		fmt.Fprintf(m.Stderr, "token %s issued (%s%s); the secret above is shown only now\n", tok.ID, tok.Role, partySuffix(tok.Party))
		return nil
	})
}

func partySuffix(p string) string {
	if p == "" {
		return ""
	}
	return " of " + p
}

const partyUsage = `Usage:
  deconflict party add ID [--name NAME] [--store URL]
  deconflict party list [--store URL]
  deconflict party key new ID [--store URL]      make a signing key for the party: prints the
                                                  secret key (keep it), registers the public one
  deconflict party key add ID PUBKEY [--store URL]  register a public key the party made itself
`

// partyKey registers a party's own signing key.
func (m *Main) partyKey(ctx context.Context, args []string) error {
	if err := m.subcommand(args, partyUsage, "new", "add"); err != nil {
		return err
	}
	fs := m.newFlags("party key "+args[0], "party key "+args[0]+" ID [PUBKEY] [--store URL]")
	store := m.storeFlag(fs)
	pos, err := m.parse(fs, args[1:])
	if err != nil {
		return err
	}
	if (args[0] == "new" && len(pos) != 1) || (args[0] == "add" && len(pos) != 2) {
		fs.Usage()
		return errUsage
	}
	return withMechanism(ctx, *store, func(mech *mechanism.Mechanism) error {
		pub, secret := "", ""
		if args[0] == "add" {
			pub = pos[1]
		} else {
			var err error
			secret, pub, err = record.NewPartyKey(pos[0], fmt.Sprint(time.Now().Unix()))
			if err != nil {
				return err
			}
		}
		if err := mech.Access().AddPartyKey(ctx, pos[0], pub); err != nil {
			return err
		}
		if secret != "" {
			fmt.Fprintln(m.Stdout, secret)
		}
		fmt.Fprintf(m.Stderr, "key %s registered for party %s\n", pub, pos[0])
		return nil
	})
}
