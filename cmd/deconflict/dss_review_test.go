package main

import (
	"crypto/x509"
	"encoding/pem"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// An explicit subscription given for an operational intent must cover
// its area as well as its time, as the InterUSS DSS requires (400
// otherwise), and an update of the subscription may not leave its
// intents uncovered.
func TestDSSSubscriptionCoversArea(t *testing.T) {
	s := startDSS(t)
	uss1 := s.tok("uss1", scSCD)
	subID := newID()
	sub := s.do("PUT", subPath+subID, uss1, subBody(circle(51.5, -0.1, 1000, 0, 300, at(0.5), at(4)), true, false)).want(t, 200).obj("subscription")

	dssMessage(t, s.do("PUT", oirPath+newID(), uss1, oirBody("Accepted", ext(51.5, -0.1, 5000, 0, 100, at(1), at(2)), nil, "subscription_id", subID)).want(t, 400))
	dssMessage(t, s.do("PUT", oirPath+newID(), uss1, oirBody("Accepted", ext(51.6, -0.1, 300, 0, 100, at(1), at(2)), nil, "subscription_id", subID)).want(t, 400))
	id := newID()
	s.do("PUT", oirPath+id, uss1, oirBody("Accepted", ext(51.5, -0.1, 300, 0, 100, at(1), at(2)), nil, "subscription_id", subID)).want(t, 201)

	// Moving the subscription away from its intent is refused; growing
	// it is not.
	v := str(sub["version"])
	dssMessage(t, s.do("PUT", subPath+subID+"/"+v, uss1, subBody(circle(51.6, -0.1, 1000, 0, 300, at(0.5), at(4)), true, false)).want(t, 400))
	s.do("PUT", subPath+subID+"/"+v, uss1, subBody(circle(51.5, -0.1, 3000, 0, 300, at(0.5), at(4)), true, false)).want(t, 200)
}

// A change of a /v1 operation is a change of a constraint to USSs: the
// notification index of every subscription for constraints over its old
// or new volumes advances, and only theirs.
func TestDSSOperationChangesAdvanceIndices(t *testing.T) {
	s := startDSS(t)
	s.mustRun("party", "add", "alpha")
	alpha := s.token("operator", "alpha")
	cp := s.tok("uss1", scSCD, scCP)
	here := s.do("PUT", subPath+newID(), cp, subBody(circle(20, 20, 1000, 0, 300, at(0.5), at(4)), false, true)).want(t, 200).obj("subscription")
	oirsOnly := s.do("PUT", subPath+newID(), cp, subBody(circle(20, 20, 1000, 0, 300, at(0.5), at(4)), true, false)).want(t, 200).obj("subscription")
	index := func(sub map[string]any) float64 {
		got := s.do("GET", subPath+str(sub["id"]), cp, nil).want(t, 200).obj("subscription")
		n, _ := got["notification_index"].(float64)
		return n
	}
	waitIndex := func(sub map[string]any, want float64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for index(sub) < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := index(sub); got != want {
			t.Fatalf("notification_index = %v, want %v", got, want)
		}
	}

	opID := newID()
	s.do("PUT", "/v1/operations/"+opID, alpha, map[string]any{"state": "planned",
		"volumes": []any{circle(20, 20, 500, 0, 200, at(1), at(2))}}).want(t, 201)
	waitIndex(here, 1)
	// Moved away: the subscription over its old volumes is told.
	s.do("PUT", "/v1/operations/"+opID, alpha, map[string]any{"state": "planned",
		"volumes": []any{circle(25, 25, 500, 0, 200, at(1), at(2))}}, "If-Match", `"1"`).want(t, 200)
	waitIndex(here, 2)
	// Elsewhere now: its cancellation concerns no one here.
	s.do("DELETE", "/v1/operations/"+opID, alpha, nil, "If-Match", `"2"`).want(t, 200)
	other := newID()
	s.do("PUT", "/v1/operations/"+other, alpha, map[string]any{"state": "planned",
		"volumes": []any{circle(20, 20, 500, 0, 200, at(1), at(2))}}).want(t, 201)
	waitIndex(here, 3)
	if n := index(oirsOnly); n != 0 {
		t.Fatalf("a subscription for operational intents only was advanced to %v", n)
	}
}

// The statuses of updates and deletes of missing entities, as utm.yaml
// lists them (and the InterUSS DSS answers): an update of an entity that
// does not exist is a bad request (utm.yaml has no 404 for it), a delete
// of one is 404, and every refusal carries an ErrorResponse.
func TestDSSMissingEntityStatuses(t *testing.T) {
	s := startDSS(t)
	cm, scd := s.tok("authority", scCM), s.tok("uss1", scSCD)
	const ovn = "0123456789abcdef0123"
	area := ext(35.7, 139.7, 1000, 0, 500, at(1), at(3))
	dssMessage(t, s.do("PUT", conPath+newID()+"/"+ovn, cm, map[string]any{"extents": area, "uss_base_url": "https://a.example"}).want(t, 400))
	dssMessage(t, s.do("DELETE", conPath+newID()+"/"+ovn, cm, nil).want(t, 404))
	dssMessage(t, s.do("PUT", oirPath+newID()+"/"+ovn, scd, oirBody("Accepted", area, nil)).want(t, 400))
	dssMessage(t, s.do("DELETE", oirPath+newID()+"/"+ovn, scd, nil).want(t, 404))
	dssMessage(t, s.do("PUT", subPath+newID()+"/v1", scd, subBody(area[0], true, false)).want(t, 400))
	dssMessage(t, s.do("DELETE", subPath+newID()+"/v1", scd, nil).want(t, 404))
	dssMessage(t, s.do("GET", subPath+newID(), scd, nil).want(t, 404))
	dssMessage(t, s.do("GET", oirPath+"not-a-uuid", scd, nil).want(t, 400))
}

// The OVN of a /v1 operation's constraint is shown only with its details,
// from its manager: a query, a GET, a subscription's answer and a 409's
// missing_constraints show "Available from USS", as for any constraint
// of another manager, so a USS cannot name it in a key without having
// read what it must plan around.
func TestDSSOperationOVNOnlyWithDetails(t *testing.T) {
	s := startDSS(t)
	s.mustRun("party", "add", "alpha")
	alpha := s.token("operator", "alpha")
	opID := newID()
	s.do("PUT", "/v1/operations/"+opID, alpha, map[string]any{"state": "planned",
		"volumes": []any{circle(20, 20, 3000, 0, 5000, at(1), at(3))}}).want(t, 201)
	cp := s.tok("uss1", scSCD, scCP)
	area := circle(20, 20, 500, 100, 200, at(1.5), at(2))
	const hidden = "Available from USS"
	if l := s.do("POST", conPath+"query", cp, map[string]any{"area_of_interest": area}).want(t, 200).list("constraint_references"); len(l) != 1 || jsonPath(l, 0, "ovn") != hidden {
		t.Fatalf("query = %v", l)
	}
	if got := s.do("GET", conPath+opID, cp, nil).want(t, 200).obj("constraint_reference"); got["ovn"] != hidden {
		t.Fatalf("GET = %v", got)
	}
	sub := s.do("PUT", subPath+newID(), cp, subBody(area, false, true)).want(t, 200)
	if l, _ := sub.body["constraint_references"].([]any); len(l) != 1 || jsonPath(l, 0, "ovn") != hidden {
		t.Fatalf("subscription answer = %s", sub.raw)
	}
	newSub := map[string]any{"uss_base_url": "https://uss1.example", "notify_for_constraints": true}
	m := s.do("PUT", oirPath+newID(), cp, oirBody("Accepted", []any{area}, nil, "new_subscription", newSub)).want(t, 409)
	if jsonPath(m.body, "missing_constraints", 0, "ovn") != hidden {
		t.Fatalf("409 = %s", m.raw)
	}
	det := s.do("GET", "/dss/mechanism/uss/v1/constraints/"+opID, cp, nil).want(t, 200)
	ovn := str(jsonPath(det.body, "constraint", "reference", "ovn"))
	if len(ovn) < 16 || ovn == hidden {
		t.Fatalf("details = %s", det.raw)
	}
	s.createOIR(t, cp, newID(), []any{area}, []string{ovn}, "new_subscription", newSub)
}

// Token pitfalls beyond the uss_qualifier scenario: HMAC with the
// server's public key as the secret (key confusion), another RSA
// algorithm, a token not valid yet, claims of the wrong type, an empty
// sub: each 401 with an ErrorResponse; a kid naming nothing is no
// obstacle to the one trusted key.
func TestDSSTokenPitfalls(t *testing.T) {
	s := startDSS(t)
	now := time.Now()
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "a", "sub": "uss1", "aud": "localhost", "exp": now.Add(time.Hour).Unix(), "scope": scSCD}
	}
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	signWith := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	with := func(k string, v any) jwt.MapClaims {
		c := base()
		c[k] = v
		return c
	}
	bad := map[string]string{
		"HS256 with the public key": signWith(jwt.SigningMethodHS256, pub, base()),
		"HS256 with the DER key":    signWith(jwt.SigningMethodHS256, der, base()),
		"RS512":                     signWith(jwt.SigningMethodRS512, s.key, base()),
		"PS256":                     signWith(jwt.SigningMethodPS256, s.key, base()),
		"not valid yet":             s.sign(with("nbf", now.Add(10*time.Minute).Unix())),
		"exp a string":              s.sign(with("exp", "tomorrow")),
		"empty sub":                 s.sign(with("sub", "")),
		"aud a number":              s.sign(with("aud", 7)),
		"scope a number":            s.sign(with("scope", 7)),
	}
	s.wantTokensRefused(t, bad)
	area := map[string]any{"area_of_interest": circle(1, 1, 100, 0, 10, at(1), at(2))}
	kid := jwt.NewWithClaims(jwt.SigningMethodRS256, base())
	kid.Header["kid"] = "no-such-key"
	tok, err := kid.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	s.do("POST", oirPath+"query", tok, area).want(t, 200)
	s.do("POST", oirPath+"query", s.sign(with("nbf", now.Add(-time.Minute).Unix())), area).want(t, 200)
}

// A subscription's polygon over the vertex limit is a bad request: utm.yaml
// has no 413 for subscriptions (it has for intents and queries).
func TestDSSSubscriptionTooManyVertices(t *testing.T) {
	s := startDSS(t)
	var ring []any
	for i := range 10_002 {
		a := 2 * math.Pi * float64(i) / 10_002
		ring = append(ring, map[string]any{"lat": 10 + 0.01*math.Sin(a), "lng": 10 + 0.01*math.Cos(a)})
	}
	v := circle(10, 10, 100, 0, 100, at(1), at(2))
	v["volume"].(map[string]any)["outline_circle"] = nil
	v["volume"].(map[string]any)["outline_polygon"] = map[string]any{"vertices": ring}
	dssMessage(t, s.do("PUT", subPath+newID(), s.tok("uss1", scSCD), subBody(v, true, false)).want(t, 400))
	dssMessage(t, s.do("POST", oirPath+"query", s.tok("uss1", scSCD), map[string]any{"area_of_interest": v}).want(t, 413))
}

// A body over the limit is 413 where utm.yaml lists it and 400 where it
// does not.
func TestDSSBodyTooLarge(t *testing.T) {
	s := startDSS(t)
	big := map[string]any{"pad": strings.Repeat("x", 5<<20)}
	tok := s.tok("uss1", scSCD, scAA)
	dssMessage(t, s.do("PUT", oirPath+newID(), tok, big).want(t, 413))
	dssMessage(t, s.do("PUT", subPath+newID(), tok, big).want(t, 400))
	dssMessage(t, s.do("PUT", "/dss/v1/uss_availability/uss1", tok, big).want(t, 400))
	dssMessage(t, s.do("POST", "/dss/v1/reports", tok, big).want(t, 400))
}
