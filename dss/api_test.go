package dss

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/dss/api"
)

// The generated types are what oapi-codegen makes of utm.yaml now.
func TestGeneratedTypes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	out := filepath.Join(t.TempDir(), "api.gen.go")
	cmd := exec.Command("go", "tool", "oapi-codegen", "-generate", "types", "-package", "api", "-o", out, "utm.yaml")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v: %s", err, b)
	}
	got, _ := os.ReadFile("api/api.gen.go")
	want, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Fatal("api/api.gen.go is not what go generate makes of utm.yaml: run go generate ./dss")
	}
}

// jsonNames returns the JSON names of a struct's fields.
func jsonNames(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}

// TestRequestShapes checks the request bodies this package decodes
// against the types generated from utm.yaml: every field is one utm.yaml
// declares, and the volumes have the shape of its Volume4D.
func TestRequestShapes(t *testing.T) {
	for _, c := range []struct {
		ours, theirs any
	}{
		{putOIRRequest{}, api.PutOperationalIntentReferenceParameters{}},
		{newSubscription{}, api.ImplicitSubscriptionParameters{}},
		{putConstraintRequest{}, api.PutConstraintReferenceParameters{}},
		{putSubscriptionRequest{}, api.PutSubscriptionParameters{}},
		{queryRequest{}, api.QueryOperationalIntentReferenceParameters{}},
		{queryRequest{}, api.QuerySubscriptionParameters{}},
		{queryRequest{}, api.QueryConstraintReferenceParameters{}},
		{availabilityRequest{}, api.SetUssAvailabilityStatusParameters{}},
		{reportRequest{}, api.ErrorReport{}},
		{dc.Volume4D{}, api.Volume4D{}},
		{dc.Volume3D{}, api.Volume3D{}},
		{dc.Circle{}, api.Circle{}},
		{dc.Polygon{}, api.Polygon{}},
		{dc.LatLng{}, api.LatLngPoint{}},
		{dc.Altitude{}, api.Altitude{}},
		{dc.Time{}, api.Time{}},
		{dc.Measure{}, api.Radius{}},
	} {
		ours, theirs := jsonNames(reflect.TypeOf(c.ours)), jsonNames(reflect.TypeOf(c.theirs))
		for name := range ours {
			if _, ok := theirs[name]; !ok {
				t.Errorf("%T has %q, which %T lacks", c.ours, name, c.theirs)
			}
		}
		for name := range theirs {
			if _, ok := ours[name]; !ok {
				t.Errorf("%T lacks %q of %T", c.ours, name, c.theirs)
			}
		}
	}
}
