package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
)

const federationUsage = `Usage:
  deconflict federation init --url URL [--area BOX]... [--store URL]
                                                         print this node's descriptor
  deconflict federation peer add DESCRIPTOR|@FILE [--store URL]
                                                         trust a peer node
  deconflict federation peer list [--store URL]          list the peers
  deconflict federation peer remove PARTY [--store URL]  stop trusting the peer hosting PARTY
  deconflict federation status [--server URL] [--token TOKEN]
                                                         each peer's link state
`

func (m *Main) federation(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
		fmt.Fprint(m.Stdout, federationUsage)
		return errHelp
	}
	switch {
	case len(args) > 0 && args[0] == "init":
		return m.federationInit(ctx, args[1:])
	case len(args) > 0 && args[0] == "status":
		return m.federationStatus(ctx, args[1:])
	case len(args) > 1 && args[0] == "peer" && args[1] == "add":
		return m.peerAdd(ctx, args[2:])
	case len(args) > 1 && args[0] == "peer" && args[1] == "list":
		return m.peerList(ctx, args[2:])
	case len(args) > 1 && args[0] == "peer" && args[1] == "remove":
		return m.peerRemove(ctx, args[2:])
	}
	fmt.Fprint(m.Stderr, federationUsage)
	return errUsage
}

func (m *Main) federationInit(ctx context.Context, args []string) error {
	fs := m.newFlags("federation init", "federation init --url URL [--area MIN_LNG,MIN_LAT,MAX_LNG,MAX_LAT]... [--store URL]\n\nPrints this node's descriptor, for its peers. --area (repeatable) declares the\nairspace this node's parties fly in, as boxes in degrees; while this node is\nsilent, its peers hold without an override only the activations that could\nmeet it (or this node's operations they hold). Without --area: anywhere.")
	url := fs.String("url", "", "where peers reach this node (http:// or https://)")
	var area []deconflict.Box
	fs.Func("area", "a box MIN_LNG,MIN_LAT,MAX_LNG,MAX_LAT (degrees; MIN_LNG > MAX_LNG crosses the antimeridian) of the airspace this node's parties fly in; repeat for several", func(s string) error {
		b, err := federation.ParseBox(s)
		if err == nil {
			area = append(area, b)
		}
		return err
	})
	store := m.storeFlag(fs)
	if pos, err := m.parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *url == "" {
		fs.Usage()
		return errUsage
	}
	return withMechanism(ctx, *store, func(mech *mechanism.Mechanism) error {
		d, err := federation.Init(ctx, mech, *url, area...)
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, d.String())
		return nil
	})
}

func (m *Main) peerAdd(ctx context.Context, args []string) error {
	fs := m.newFlags("federation peer add", "federation peer add DESCRIPTOR|@FILE [--store URL]")
	store := m.storeFlag(fs)
	pos, err := m.parseN(fs, args, 1)
	if err != nil {
		return err
	}
	text := []byte(pos[0])
	if name, ok := strings.CutPrefix(pos[0], "@"); ok {
		if text, err = os.ReadFile(name); err != nil {
			return err
		}
	}
	d, err := federation.ParseDescriptor([]byte(strings.TrimSpace(string(text))))
	if err != nil {
		return err
	}
	return withMechanism(ctx, *store, func(mech *mechanism.Mechanism) error {
		p, err := federation.AddPeer(ctx, mech, d)
		return m.peerDone(p, err, "added")
	})
}

func (m *Main) peerList(ctx context.Context, args []string) error {
	fs := m.newFlags("federation peer list", "federation peer list [--store URL]")
	store := m.storeFlag(fs)
	if _, err := m.parseN(fs, args, 0); err != nil {
		return err
	}
	return withMechanism(ctx, *store, func(mech *mechanism.Mechanism) error {
		peers, err := federation.Peers(ctx, mech.Store())
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTIES\tURL\tAPPLIED\tKEY\tAREA")
		for _, p := range peers {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", strings.Join(p.Parties, ","), p.URL, p.Applied, p.Verified, p.Key, areaText(p.Area))
		}
		return tw.Flush()
	})
}

// areaText writes a peer's declared area as its boxes
// (min_lng,min_lat,max_lng,max_lat, separated by spaces), or "anywhere".
func areaText(area []deconflict.Box) string {
	if len(area) == 0 {
		return "anywhere"
	}
	out := make([]string, len(area))
	for i, b := range area {
		out[i] = fmt.Sprintf("%g,%g,%g,%g", b[0], b[1], b[2], b[3])
	}
	return strings.Join(out, " ")
}

func (m *Main) peerRemove(ctx context.Context, args []string) error {
	fs := m.newFlags("federation peer remove", "federation peer remove PARTY [--store URL]")
	store := m.storeFlag(fs)
	pos, err := m.parseN(fs, args, 1)
	if err != nil {
		return err
	}
	return withMechanism(ctx, *store, func(mech *mechanism.Mechanism) error {
		p, err := federation.RemovePeer(ctx, mech.Store(), pos[0])
		return m.peerDone(p, err, "removed")
	})
}

func (m *Main) federationStatus(ctx context.Context, args []string) error {
	fs := m.newFlags("federation status", "federation status [--server URL] [--token TOKEN]")
	client := m.clientFlags(fs)
	if _, err := m.parseN(fs, args, 0); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	var st federation.Status
	if err := c.Do(ctx, "GET", "/v1/federation", nil, &st); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "this node: %s at %s\n", strings.Join(st.Node.Parties, ", "), st.Node.URL)
	if len(st.Peers) == 0 {
		fmt.Fprintln(m.Stdout, "no peers: a single server")
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tSTATE\tLAST SEEN\tBEHIND\tALERTS\tURL")
	for _, p := range st.Peers {
		seen := "never"
		if p.LastSeen != nil {
			seen = fmt.Sprintf("%s (%s ago)", p.LastSeen.Format(time.RFC3339), time.Since(*p.LastSeen).Round(time.Second))
		}
		state := strings.ToUpper(p.State)
		if p.State == "up" {
			state = "up"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", strings.Join(p.Parties, ","), state, seen, p.Behind, len(p.Alerts), p.URL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range st.Peers {
		for _, a := range p.Alerts {
			fmt.Fprintf(m.Stdout, "ALERT %s %s: %s: %s\n", a.At.Format(time.RFC3339), strings.Join(p.Parties, ","), a.Kind, a.Message)
		}
		if p.State != "up" {
			fmt.Fprintf(m.Stdout, "%s is %s: its operations may be out of date; activations need a head's override (coordinate by voice)\n", strings.Join(p.Parties, ","), p.State)
		}
	}
	return nil
}

// peerDone reports on stderr that the peer p was added or removed (what),
// unless err says it was not.
func (m *Main) peerDone(p *deconflict.Peer, err error, what string) error {
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "peer %s (%s) %s\n", p.URL, strings.Join(p.Parties, ", "), what)
	return nil
}
