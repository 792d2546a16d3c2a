package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	dchttp "github.com/deconflict/deconflict/http"
	"github.com/deconflict/deconflict/record"
)

// clientFlags adds --server and --token, with defaults from
// DECONFLICT_SERVER and DECONFLICT_TOKEN.
func (m *Main) clientFlags(fs *flag.FlagSet) func() (*dchttp.Client, error) {
	server := m.Getenv("DECONFLICT_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	url := fs.String("server", server, "server URL (env DECONFLICT_SERVER)")
	token := fs.String("token", "", "bearer token (env DECONFLICT_TOKEN)")
	return func() (*dchttp.Client, error) {
		t := *token
		if t == "" {
			t = m.Getenv("DECONFLICT_TOKEN")
		}
		if t == "" {
			return nil, errors.New("a token is needed: --token or DECONFLICT_TOKEN")
		}
		return &dchttp.Client{BaseURL: *url, Token: t}, nil
	}
}

// watch follows the live event stream in readable lines, reconnecting
// and resuming after the last event seen.
func (m *Main) watch(ctx context.Context, args []string) error {
	fs := m.newFlags("watch", "watch [--server URL] [--token TOKEN] [--from SEQ] [--json]")
	client := m.clientFlags(fs)
	from := fs.Int64("from", 0, "start after this event seq (0: from the first event)")
	asJSON := fs.Bool("json", false, "print each event as one JSON line")
	if pos, err := m.parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		fs.Usage()
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	last := *from
	backoff := 500 * time.Millisecond
	for {
		err := c.Stream(ctx, last, func(ev dchttp.StreamEvent) error {
			if ev.Seq > 0 { // the server's own notices (error) have none
				last = ev.Seq
			}
			backoff = 500 * time.Millisecond
			if *asJSON {
				_, err := fmt.Fprintf(m.Stdout, "%s\n", ev.Data)
				return err
			}
			_, err := fmt.Fprintln(m.Stdout, describeEvent(ev))
			return err
		})
		if ctx.Err() != nil {
			return nil
		}
		var e *dc.Error
		if errors.As(err, &e) && (e.Code == dc.EUnauthenticated || e.Code == dc.EPermission || e.Code == dc.EInvalid) {
			return err
		}
		fmt.Fprintf(m.Stderr, "deconflict watch: stream lost (%v); reconnecting after event %d in %s\n", err, last, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// describeEvent renders an event as one line a duty officer reads.
func describeEvent(ev dchttp.StreamEvent) string {
	var e struct {
		Time  time.Time `json:"time"`
		Actor struct {
			Party string `json:"party"`
			Role  string `json:"role"`
		} `json:"actor"`
		Subject   *dc.Subject     `json:"subject"`
		OpRaw     json.RawMessage `json:"operation"` // an object, or an ID in notice.short
		Operation *dc.Operation   `json:"-"`
		Conflict  *dc.Conflict    `json:"conflict"`
		Message   *dc.Message     `json:"message"`
		Escalate  *dc.Duty        `json:"escalation"`
		LeadTimeS *float64        `json:"lead_time_s"`
		Receipt   map[string]any  `json:"receipt"`
	}
	_ = json.Unmarshal(ev.Data, &e)
	if len(e.OpRaw) > 0 && e.OpRaw[0] == '{' {
		_ = json.Unmarshal(e.OpRaw, &e.Operation)
	}
	who := e.Actor.Role
	if e.Actor.Party != "" {
		who = e.Actor.Party + "/" + e.Actor.Role
	}
	var what string
	switch {
	case e.Operation != nil:
		cs := ""
		if e.Operation.Callsign != nil {
			cs = " " + *e.Operation.Callsign
		}
		what = fmt.Sprintf("operation %s%s of %s, v%d, %s", e.Operation.ID, cs, e.Operation.Party, e.Operation.Version, e.Operation.State)
	case e.Conflict != nil:
		c := e.Conflict
		what = fmt.Sprintf("conflict %s %s: %s × %s (h %.0f m, v %.0f m, t %.0f s)", c.ID, c.Status, c.Parties[0], c.Parties[1],
			c.Separation.HorizontalM, c.Separation.VerticalM, c.Separation.TimeS)
	case e.Message != nil:
		what = fmt.Sprintf("%s %s from %s to %s [%s]: %s", e.Message.Kind, e.Message.ID, e.Message.From.Party,
			strings.Join(e.Message.To, ","), e.Message.Urgency, oneLine(e.Message.Text, 80))
	case e.Escalate != nil:
		what = fmt.Sprintf("%s %s unanswered by %s, level %d", e.Escalate.Subject.Kind, e.Escalate.Subject.ID, e.Escalate.Party, e.Escalate.Level)
	case e.LeadTimeS != nil:
		var id string
		if json.Unmarshal(e.OpRaw, &id) != nil && e.Subject != nil {
			id = e.Subject.ID
		}
		what = fmt.Sprintf("operation %s with %s notice", id, time.Duration(*e.LeadTimeS*float64(time.Second)).Round(time.Second))
	case e.Receipt != nil:
		what = fmt.Sprintf("operation %v v%v seen by %v", e.Receipt["operation"], e.Receipt["version"], e.Receipt["party"])
	case e.Subject != nil:
		what = e.Subject.Kind + " " + e.Subject.ID
	}
	return fmt.Sprintf("%s  #%-6s %-22s %-18s %s", e.Time.UTC().Format(time.RFC3339), strconv.FormatInt(ev.Seq, 10), ev.Type, who, what)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// ack acknowledges a conflict, an operation (a version of it) or a
// hotline message from the shell.
func (m *Main) ack(ctx context.Context, args []string) error {
	fs := m.newFlags("ack", "ack conflict|operation|message ID [--version N] [--sign-key FILE] [--server URL] [--token TOKEN]")
	client := m.clientFlags(fs)
	version := fs.Int("version", 0, "with operation: the version seen (default: the current one)")
	signKey := fs.String("sign-key", "", "sign the acknowledgement with the party's own secret key in FILE (from 'deconflict party key new'); operations and conflicts")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	kind, id := pos[0], pos[1]
	sign := func(version int) (string, error) {
		if *signKey == "" {
			return "", nil
		}
		skey, err := os.ReadFile(*signKey)
		if err != nil {
			return "", fmt.Errorf("read signing key: %w", err)
		}
		var who struct {
			Party string `json:"party"`
		}
		if err := c.Do(ctx, "GET", "/v1/whoami", nil, &who); err != nil {
			return "", err
		}
		return record.SignAck(strings.TrimSpace(string(skey)), kind, id, version, who.Party)
	}
	var out map[string]any
	switch kind {
	case dc.SubjectConflict:
		signed, serr := sign(0)
		if serr != nil {
			return serr
		}
		var body any
		if signed != "" {
			body = map[string]string{"signed": signed}
		}
		err = c.Do(ctx, "POST", "/v1/conflicts/"+id+"/ack", body, &out)
	case dc.SubjectMessage:
		err = c.Do(ctx, "POST", "/v1/hotline/messages/"+id+"/ack", nil, &out)
	case dc.SubjectOperation:
		v := *version
		if v == 0 {
			var got struct {
				Operation dc.Operation `json:"operation"`
			}
			if err := c.Do(ctx, "GET", "/v1/operations/"+id, nil, &got); err != nil {
				return err
			}
			v = got.Operation.Version
		}
		signed, serr := sign(v)
		if serr != nil {
			return serr
		}
		err = c.Do(ctx, "POST", "/v1/operations/"+id+"/ack", map[string]any{"version": v, "signed": signed}, &out)
	default:
		fs.Usage()
		return errUsage
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
