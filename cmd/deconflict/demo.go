package main

import (
	"context"
	"fmt"
	"io"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// The demo: two air forces over the Levant that share the airspace but not
// a command, with neutral names.
var demoParties = []struct{ id, name string }{
	{"azure", "Azure Air Command"},
	{"olive", "Olive Air Command"},
}

// demoOperation is one operation of the demo scenario, with times in
// minutes from now.
type demoOperation struct {
	party, callsign, notes string
	state                  dc.State
	circle                 *[3]float64 // lat, lng, radius m
	polygon                [][2]float64
	lower, upper           float64
	from, to               int
}

var demoOperations = []demoOperation{
	{party: "azure", callsign: "AZURE 11", notes: "combat air patrol, two ship", state: dc.StatePlanned,
		polygon: [][2]float64{{33.30, 35.90}, {33.70, 35.90}, {33.70, 36.30}, {33.30, 36.30}}, lower: 6000, upper: 9000, from: 120, to: 300},
	{party: "azure", callsign: "AZURE 21", notes: "transport, northern corridor", state: dc.StatePlanned,
		circle: &[3]float64{34.80, 36.00, 15000}, lower: 3000, upper: 4500, from: 30, to: 120},
	{party: "olive", callsign: "OLIVE 31", notes: "strike package, four ship", state: dc.StatePlanned,
		polygon: [][2]float64{{33.50, 36.10}, {33.90, 36.15}, {33.85, 36.55}, {33.45, 36.45}}, lower: 7000, upper: 10000, from: 180, to: 240},
	{party: "olive", callsign: "OLIVE 41", notes: "reconnaissance orbit", state: dc.StateActive,
		circle: &[3]float64{35.90, 37.20, 20000}, lower: 2000, upper: 5000, from: 60, to: 360},
	{party: "olive", callsign: "OLIVE 51", notes: "helicopter medevac standby", state: dc.StatePlanned,
		circle: &[3]float64{32.90, 35.60, 8000}, lower: 0, upper: 1000, from: 90, to: 480},
}

func (d demoOperation) declaration(now time.Time) mechanism.Declaration {
	v := dc.Volume4D{
		TimeStart: &dc.Time{Value: now.Add(time.Duration(d.from) * time.Minute).Format(time.RFC3339), Format: "RFC3339"},
		TimeEnd:   &dc.Time{Value: now.Add(time.Duration(d.to) * time.Minute).Format(time.RFC3339), Format: "RFC3339"},
	}
	v.Volume.AltitudeLower = &dc.Altitude{Value: dc.Float(d.lower), Reference: "W84", Units: "M"}
	v.Volume.AltitudeUpper = &dc.Altitude{Value: dc.Float(d.upper), Reference: "W84", Units: "M"}
	if d.circle != nil {
		v.Volume.OutlineCircle = &dc.Circle{
			Center: &dc.LatLng{Lat: dc.Float(d.circle[0]), Lng: dc.Float(d.circle[1])},
			Radius: &dc.Measure{Value: dc.Float(d.circle[2]), Units: "M"},
		}
	} else {
		p := &dc.Polygon{}
		for _, ll := range d.polygon {
			p.Vertices = append(p.Vertices, dc.LatLng{Lat: dc.Float(ll[0]), Lng: dc.Float(ll[1])})
		}
		v.Volume.OutlinePolygon = p
	}
	callsign, notes := d.callsign, d.notes
	return mechanism.Declaration{
		Volumes: []dc.Volume4D{v}, State: d.state, Callsign: &callsign, ShareCallsign: true, Notes: &notes,
	}
}

// seedDemo creates the demo parties and, when no operation is live,
// declares the scenario; then it issues fresh tokens and prints them with
// a few commands to try.
func seedDemo(ctx context.Context, mech *mechanism.Mechanism, w io.Writer, base string) error {
	have := map[string]bool{}
	ps, err := mech.Access().Parties(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		have[p.ID] = true
	}
	for _, p := range demoParties {
		if !have[p.id] {
			if _, err := mech.Access().AddParty(ctx, p.id, p.name); err != nil {
				return err
			}
		}
	}
	if mech.Index().LiveOperations() == 0 {
		now := mech.Now().Truncate(time.Minute)
		for _, op := range demoOperations {
			a := dc.Actor{Party: op.party, Role: dc.RoleOperator}
			if _, err := mech.Declare(ctx, a, uuid.NewString(), op.declaration(now), nil); err != nil {
				return fmt.Errorf("declare %s: %w", op.callsign, err)
			}
		}
	}
	type issued struct{ who, secret string }
	var toks []issued
	for _, t := range []struct {
		role  dc.Role
		party string
	}{
		{dc.RoleOperator, "azure"}, {dc.RoleLiaison, "azure"}, {dc.RoleHead, "azure"},
		{dc.RoleOperator, "olive"}, {dc.RoleLiaison, "olive"}, {dc.RoleHead, "olive"},
		{dc.RoleObserver, "azure"}, {dc.RoleAdmin, ""},
	} {
		secret, _, err := mech.Access().IssueToken(ctx, t.role, t.party, "demo")
		if err != nil {
			return err
		}
		who := string(t.role)
		if t.party != "" {
			who = t.party + " " + who
		}
		toks = append(toks, issued{who, secret})
	}
	fmt.Fprintf(w, "deconflict demo: two air commands, azure and olive, share the airspace over the Levant.\n")
	fmt.Fprintf(w, "Server: %s   (%d live operations; OLIVE 31 and AZURE 11 are in conflict)\n\n", base, mech.Index().LiveOperations())
	fmt.Fprintf(w, "Tokens (fresh for this run; shown only now):\n")
	for _, t := range toks {
		fmt.Fprintf(w, "  %-16s %s\n", t.who, t.secret)
	}
	fmt.Fprintf(w, "\nThe console (open a link in a browser; each signs in as that role):\n")
	for _, i := range []int{1, 3, 2} {
		fmt.Fprintf(w, "  %-16s %s/#token=%s\n", toks[i].who, base, toks[i].secret)
	}
	conflictID := "CONFLICT_ID"
	if cs, _, err := mech.Conflicts(ctx, dc.Actor{Role: dc.RoleAdmin}, dc.ConflictFilter{Statuses: []dc.ConflictStatus{dc.ConflictOpen}, Limit: 1}); err == nil && len(cs) > 0 {
		conflictID = cs[0].ID
	}
	fmt.Fprintf(w, "\nTry:\n")
	fmt.Fprintf(w, "  curl -s -H 'Authorization: Bearer %s' %s/v1/operations\n", toks[1].secret, base)
	fmt.Fprintf(w, "  curl -s -H 'Authorization: Bearer %s' %s/v1/conflicts?status=open\n", toks[1].secret, base)
	fmt.Fprintf(w, "  curl -s -X POST -H 'Authorization: Bearer %s' %s/v1/conflicts/%s/ack\n", toks[1].secret, base, conflictID)
	fmt.Fprintf(w, "  curl -sN -H 'Authorization: Bearer %s' %s/v1/events      # the live stream\n\n", toks[4].secret, base)
	return nil
}
