package deconflict

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// eventJSONOracle is EventJSON as encoding/json alone writes it.
func eventJSONOracle(e *Event) ([]byte, error) {
	head, err := json.Marshal(struct {
		Seq     int64    `json:"seq"`
		Type    string   `json:"type"`
		Time    any      `json:"time"`
		Actor   Actor    `json:"actor"`
		Subject *Subject `json:"subject,omitempty"`
	}{e.Seq, e.Type, e.Time, e.Actor, e.Subject})
	if err != nil {
		return nil, err
	}
	body := bytes.TrimSpace(e.Data)
	if len(body) < 2 || body[0] != '{' || bytes.Equal(body, []byte("{}")) {
		return head, nil
	}
	out := append(head[:len(head)-1:len(head)-1], ',')
	return append(out, body[1:]...), nil
}

// TestEventJSONAsEncodingJSON checks that EventJSON writes random events
// byte for byte as encoding/json does, and AppendEventJSON the same after
// what the buffer held.
func TestEventJSONAsEncodingJSON(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 3))
	texts := []string{"operation.declared", "alpha", "operator", "", "a<b>&c", `quo"te`, "back\\slash", "é", "tab\t", "\u2028", "\x7f"}
	text := func() string {
		if r.IntN(3) > 0 {
			return texts[r.IntN(3)]
		}
		return texts[r.IntN(len(texts))]
	}
	times := []time.Time{
		time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC),
		time.Date(2026, 11, 25, 14, 0, 0, 1, time.FixedZone("", 2*3600)),
		{},
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	datas := []string{"", "{}", " { } ", `{"operation":{"id":"x"}}`, ` {"a":1} `, `[1]`, `null`, `{"x":"<&>"}`}
	hand, other := 0, 0
	for range 3000 {
		e := &Event{Seq: r.Int64N(1 << 40), Type: text(), Time: times[r.IntN(len(times))],
			Actor: Actor{Party: text(), Role: Role(text()), TokenID: "secret"}, Data: json.RawMessage(datas[r.IntN(len(datas))])}
		if r.IntN(2) == 0 {
			e.Subject = &Subject{Kind: text(), ID: text()}
		}
		want, wantErr := eventJSONOracle(e)
		got, err := AppendEventJSON([]byte("prefix"), e)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%+v: error %v, encoding/json %v", e, err, wantErr)
		}
		if err != nil {
			if string(got) != "prefix" {
				t.Fatalf("a refused event changed the buffer: %q", got)
			}
			continue
		}
		if string(got) != "prefix"+string(want) {
			t.Fatalf("wrote\n%s\nencoding/json\n%s", got[len("prefix"):], want)
		}
		if _, ok := appendEventHead(nil, e); ok {
			hand++
		} else {
			other++
		}
	}
	t.Logf("%d heads written by hand, %d by encoding/json", hand, other)
	if hand < 100 || other < 100 {
		t.Fatal("too few of either kind: the test tests little")
	}
}

// TestEventHeadFields fails when Actor or Subject gains, loses or renames
// a field: appendEventHead writes their fields by hand and must follow.
func TestEventHeadFields(t *testing.T) {
	for _, tc := range []struct {
		typ  reflect.Type
		want []string
	}{
		{reflect.TypeFor[Actor](), []string{`json:"party"`, `json:"role"`, `json:"-"`}},
		{reflect.TypeFor[Subject](), []string{`json:"kind"`, `json:"id"`}},
	} {
		var got []string
		for i := range tc.typ.NumField() {
			got = append(got, string(tc.typ.Field(i).Tag))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v has the fields %v; appendEventHead writes %v: change it with the type", tc.typ, got, tc.want)
		}
	}
}
