package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/deconflict/deconflict/dss"
	dchttp "github.com/deconflict/deconflict/http"
	"github.com/deconflict/deconflict/mechanism"
)

// dssFlags are serve's flags of the ASTM F3548 DSS interface (contract
// section 12).
type dssFlags struct {
	keys, audiences *string
}

func (f dssFlags) enabled() bool { return *f.keys != "" }

// dssAudiences returns the accepted audiences: those of --dss-audience,
// or localhost and the host serve listens on.
func dssAudiences(flag, listen string) []string {
	if flag != "" {
		var out []string
		for _, a := range strings.Split(flag, ",") {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
		return out
	}
	out := []string{"localhost"}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" && host != "localhost" {
		out = append(out, host)
	}
	return out
}

// withDSS returns the handler serving /dss/ with the DSS interface (or
// answering 404 there when it is off) and everything else with next.
func withDSS(ctx context.Context, f dssFlags, listen string, mech *mechanism.Mechanism, log *slog.Logger, next http.Handler) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/", next)
	// What-if checks, the request clients repeat most, go to next
	// without the mux's lookup: the mux sends that clean path there.
	split := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == dchttp.CheckPath && r.URL.RawPath == "" {
			next.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	if !f.enabled() {
		mux.HandleFunc("/dss/", http.NotFound)
		return split, nil
	}
	keys, err := dss.LoadKeys(strings.Split(*f.keys, ","))
	if err != nil {
		return nil, fmt.Errorf("--dss-keys: %w", err)
	}
	auds := dssAudiences(*f.audiences, listen)
	d, err := dss.New(ctx, mech, dss.NewVerifier(keys, auds, nil), dss.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	mux.Handle("/dss/", d)
	go d.FollowOperations(ctx, time.Second)
	go d.RunPurge(ctx, 10*time.Minute)
	log.Info("serving the ASTM F3548 DSS interface", slog.String("path", "/dss/v1/"), slog.Int("keys", len(keys)),
		slog.String("audiences", strings.Join(auds, ",")), slog.Int("operational_intents", d.Len()))
	return split, nil
}
