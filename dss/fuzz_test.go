package dss

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict/dss/api"
	"github.com/golang-jwt/jwt/v5"
)

// FuzzParseRequest feeds arbitrary bodies to the decoding and geometry
// checks of DSS requests: they never panic, and what they accept is a
// valid volume list.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"extents":[{"volume":{"outline_circle":{"center":{"lat":1,"lng":2},"radius":{"value":100,"units":"M"}},"altitude_lower":{"value":0,"reference":"W84","units":"M"},"altitude_upper":{"value":10,"reference":"W84","units":"M"}},"time_start":{"value":"2030-01-01T00:00:00Z","format":"RFC3339"},"time_end":{"value":"2030-01-01T01:00:00Z","format":"RFC3339"}}],"state":"Accepted","uss_base_url":"https://x","key":["a"]}`))
	f.Add([]byte(`{"area_of_interest":{"volume":{"outline_polygon":{"vertices":[{"lat":0,"lng":0},{"lat":0,"lng":1},{"lat":1,"lng":0}]}}}}`))
	f.Add([]byte(`{"extents":{"volume":{"outline_polygon":{"vertices":[{"lat":0,"lng":0},{"lat":0,"lng":1},{"lat":1,"lng":1e309}]}},"time_end":{"value":"x"}}}`))
	f.Add([]byte(`{"extents":[{}]}`))
	f.Add([]byte(`[`))
	now := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var oirReq putOIRRequest
		if decode(httptest.NewRequest("PUT", "/", bytes.NewReader(body)), &oirReq) == nil {
			if ext, vols, start, end, err := parseExtents(oirReq.Extents, now); err == nil {
				if len(ext) != len(vols) || len(vols) == 0 || !end.After(now) || !start.Before(end) {
					t.Fatalf("accepted extents %d/%d from %s to %s", len(ext), len(vols), start, end)
				}
				_ = checkArea(ext, "extents", 413)
			}
		}
		var q queryRequest
		if decode(httptest.NewRequest("POST", "/", bytes.NewReader(body)), &q) == nil {
			if v, vols, err := parseArea("area_of_interest", q.AreaOfInterest, now, queryHorizon); err == nil {
				if len(vols) != 1 || v.TimeStart == nil || v.TimeEnd == nil || vols[0].LowerM > vols[0].UpperM {
					t.Fatalf("accepted area %+v", vols)
				}
			}
		}
		var s putSubscriptionRequest
		if decode(httptest.NewRequest("PUT", "/", bytes.NewReader(body)), &s) == nil {
			_, _, _ = parseArea("extents", s.Extents, now, maxSubscriptionDuration)
		}
	})
}

// FuzzVerify feeds arbitrary Authorization headers to the token check:
// it never panics and accepts only tokens signed by the trusted key.
func FuzzVerify(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	good, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "i", "sub": "s", "aud": "localhost",
		"exp": now.Add(time.Hour).Unix(), "scope": ScopeStrategicCoordination}).SignedString(key)
	f.Add("Bearer " + good)
	f.Add("Bearer " + good[:len(good)-3])
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("Basic abc")
	f.Add("")
	v := NewVerifier([]*rsa.PublicKey{&key.PublicKey}, []string{"localhost"}, func() time.Time { return now })
	f.Fuzz(func(t *testing.T, header string) {
		c, err := v.Verify(header)
		if err == nil && (c.Subject == "" || !strings.HasSuffix(strings.TrimSpace(header), good)) {
			t.Fatalf("accepted %q as %+v", header, c)
		}
	})
}

// utmUUIDv4 is the pattern utm.yaml gives entity IDs, which isUUIDv4
// checks without a regular expression.
var utmUUIDv4 = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)

// FuzzEntityID: an ID of the path is accepted exactly when it matches
// utm.yaml's pattern.
func FuzzEntityID(f *testing.F) {
	for _, s := range []string{"0b7f5e9c-3a1d-4f6e-8b2a-9c0d1e2f3a4b", "0B7F5E9C-3A1D-4F6E-BB2A-9C0D1E2F3A4B",
		"0b7f5e9c-3a1d-5f6e-8b2a-9c0d1e2f3a4b", "0b7f5e9c-3a1d-4f6e-cb2a-9c0d1e2f3a4b", "0b7f5e9c3a1d4f6e8b2a9c0d1e2f3a4b",
		"0b7f5e9c-3a1d-4f6e-8b2a-9c0d1e2f3a4g", "0b7f5e9c-3a1d-4f6e-8b2a-9c0d1e2f3a4b\n", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isUUIDv4(s), utmUUIDv4.MatchString(s); got != want {
			t.Fatalf("isUUIDv4(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

// FuzzDecode: decode answers every body as encoding/json decoding it as a
// stream does (decodeStream), with the same value or the same refusal,
// for each request type it may decode with JSON v2.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"extents":[{"volume":{"outline_circle":{"center":{"lat":1,"lng":2},"radius":{"value":100,"units":"M"}},"altitude_lower":{"value":0,"reference":"W84","units":"M"},"altitude_upper":{"value":10,"reference":"W84","units":"M"}},"time_start":{"value":"2030-01-01T00:00:00Z","format":"RFC3339"},"time_end":{"value":"2030-01-01T01:00:00Z","format":"RFC3339"}}],"state":"Accepted","uss_base_url":"https://x","key":["a"]}`,
		`{"State":"Accepted","KEY":["a"],"uss_base_url":"u"}`, `{"state":"A","state":"B"}`, `{"state":"\xff"}`,
		`{"extents":null,"key":null,"subscription_id":null,"new_subscription":{"uss_base_url":"u","notify_for_constraints":true}}`,
		`{"unknown":1,"state":"Accepted"}`, `{} {}`, `{}  `, ``, `null`, `[]`, `{"key":[1]}`, `{"extents":[{"volume":{"outline_circle":{"radius":{"value":1e400}}}}]}`,
		`{"area_of_interest":{"volume":{"outline_polygon":{"vertices":[{"lat":0,"lng":0}]}}}}`, `{"extents":{"time_start":{"value":"x"}},"notify_for_operational_intents":true}`,
		`{"state":"\u0041ccepted","uss_base_url":"\ud800"}`, `{"requested_ovn_suffix":"x","subscription_id":""}`,
		`{"key":[],"extents":[],"state":""}`, `{"extents":[{"volume":{"outline_polygon":{"vertices":[]}},"time_end":null}]}`,
		`{"extents":[{"volume":{"outline_circle":{"center":{"lat":1,"LAT":2}}}}]}`, `{"key":["a"],"key":["b"]}`, "\ufeff{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, newV := range []func() any{
			func() any { return new(putOIRRequest) }, func() any { return new(putConstraintRequest) },
			func() any { return new(putSubscriptionRequest) }, func() any { return new(queryRequest) },
		} {
			got, want := newV(), newV()
			gotErr := decode(httptest.NewRequest("PUT", "/", bytes.NewReader(body)), got)
			wantErr := decodeStream(bytes.NewReader(body), want)
			if answer(gotErr) != answer(wantErr) {
				t.Fatalf("%T of %q: decode says %v, encoding/json %v", got, body, gotErr, wantErr)
			}
			if gotErr == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("%T of %q: decode gives %+v, encoding/json %+v", got, body, got, want)
			}
		}
	})
}

// answer is the status and message of a refusal, for comparing two.
func answer(err error) string {
	if ae, ok := err.(*apiError); ok {
		return fmt.Sprintf("%d %s", ae.status, ae.Error())
	}
	return fmt.Sprint(err)
}

// FuzzOIRChangeAnswer: the answer to an OIR change that oirChangeAnswer
// writes itself is byte for byte what encoding/json makes of it.
func FuzzOIRChangeAnswer(f *testing.F) {
	f.Add("0b7f5e9c-3a1d-4f6e-8b2a-9c0d1e2f3a4b", "uss1", "uss1", "6d2e4a1c-7b3f-4e5d-9a8c-1b2c3d4e5f60", "Accepted", "", "https://uss.example/api", int64(1796000000123456789), int64(3600e9), int32(1), "Unknown")
	f.Add("0b7f5e9c-3a1d-4f6e-8b2a-9c0d1e2f3a4b", "uss1", "uss2", "x_y", "Activated", "6d2e4a1c-7b3f-4e5d-9a8c-1b2c3d4e5f60", "https://a/<b>&c", int64(-9e18), int64(1), int32(7), "Down")
	f.Add("not a uuid", "uss\u00e9", "uss\u00e9", "ovn\"\\", "Nonconforming", "bad", "http://x\u2028", int64(9e18), int64(0), int32(-1), "Normal")
	f.Fuzz(func(t *testing.T, id, manager, caller, ovn, state, sub, url string, start, length int64, version int32, avail string) {
		o := &oir{ID: id, Manager: manager, OVN: ovn, State: state, SubscriptionID: sub, USSBaseURL: url,
			Start: time.Unix(0, start), End: time.Unix(0, start).Add(time.Duration(length)), Version: version}
		want, err := json.Marshal(&api.ChangeOperationalIntentReferenceResponse{OperationalIntentReference: oirRefAs(o, caller, api.UssAvailabilityState(avail)), Subscribers: []api.SubscriberToNotify{}})
		if err != nil {
			t.Skip(err)
		}
		got, ok := appendOIRChange(nil, o, caller, api.UssAvailabilityState(avail), nil)
		if ok && string(got) != string(want) {
			t.Fatalf("written as\n%s\nencoding/json writes\n%s", got, want)
		}
	})
}

// TestOIRChangeAnswerWritten: a common answer (the one every creation
// without subscribers gives) is written by appendOIRChange, not left to
// encoding/json, and reads back as the reference.
func TestOIRChangeAnswerWritten(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	o := &oir{ID: "0b7f5e9c-3a1d-4f6e-8b2a-9c0d1e2f3a4b", Manager: "uss1", OVN: "6d2e4a1c-7b3f-4e5d-9a8c-1b2c3d4e5f60", State: "Accepted",
		USSBaseURL: "https://uss.example/api", Start: start, End: start.Add(time.Hour), Version: 3}
	got, ok := oirChangeAnswer(o, "uss1", api.Unknown, []api.SubscriberToNotify{}).(encodedJSON)
	if !ok {
		t.Fatal("the common answer was left to encoding/json")
	}
	var back api.ChangeOperationalIntentReferenceResponse
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	r := back.OperationalIntentReference
	ovn, _ := r.Ovn.AsEntityOVN()
	ts, _ := r.TimeStart.AsTime()
	te, _ := r.TimeEnd.AsTime()
	if ovn != o.OVN || !ts.Value.Equal(start) || !te.Value.Equal(start.Add(time.Hour)) || r.Version != 3 || r.Manager != "uss1" || len(back.Subscribers) != 0 {
		t.Errorf("the answer reads back as %s", got)
	}
}
