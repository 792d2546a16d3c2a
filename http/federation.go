package http

import (
	"context"
	"net/http"

	dc "github.com/deconflict/deconflict"
	"github.com/prometheus/client_golang/prometheus"
)

// FederationOptions connect a server to its federation node (package
// federation), which http does not import.
type FederationOptions struct {
	// Status answers GET /v1/federation.
	Status func(ctx context.Context) (any, error)
	// Peers serves the peer protocol under /federation/; it
	// authenticates peers itself.
	Peers http.Handler
	// Pulling reports whether this process pulls the peers' logs (of
	// several replicas of a node, the one holding the pull lease), and
	// Pulls how many pull requests it sent; /metrics shows them.
	Pulling func() bool
	Pulls   func() int64
}

func (s *Server) federationRoutes(f *FederationOptions) {
	s.handle("POST /v1/operations/{id}/override", s.overrideOperation)
	s.handle("GET /v1/federation", func(w http.ResponseWriter, r *http.Request, a dc.Actor) {
		if f == nil || f.Status == nil {
			parties, err := s.mech.Federation().LocalParties(r.Context())
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"node": map[string]any{"parties": parties, "url": ""}, "peers": []any{}})
			return
		}
		st, err := f.Status(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	if f != nil && f.Peers != nil {
		s.mux.Handle("GET /federation/v1/log", f.Peers)
	}
	if f != nil && f.Pulling != nil && f.Pulls != nil {
		s.metrics.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "deconflict_federation_pulling", Help: "1 while this process pulls the federation peers' logs (of several replicas of a node, the one holding the pull lease), 0 otherwise.",
			}, func() float64 {
				if f.Pulling() {
					return 1
				}
				return 0
			}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "deconflict_federation_pulls_total", Help: "Pull requests this process sent to federation peers.",
			}, func() float64 { return float64(f.Pulls()) }),
		)
	}
}

// overrideOperation records a head's override of a stale peer link for
// an operation's activation.
func (s *Server) overrideOperation(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.mech.Federation().OverrideActivation(r.Context(), a, r.PathValue("id"), body.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"override": o})
}
