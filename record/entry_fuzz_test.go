package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// parseEntryV1 is parseEntry as encoding/json reads an entry: the
// reference FuzzParseEntry holds parseEntry to.
func parseEntryV1(data []byte) (*dc.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j entryJSON
	if err := dec.Decode(&j); err != nil {
		return nil, err
	}
	e, err := j.event()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(entryBytes(e, true), data) {
		return nil, errNotCanonical
	}
	return e, nil
}

var errNotCanonical = errors.New("not in canonical form")

// FuzzParseEntry: parseEntry accepts exactly the bytes encoding/json's
// reading of an entry accepts, and reads the same event from them; what
// it accepts is what EntryBytes writes for that event.
func FuzzParseEntry(f *testing.F) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	for _, e := range []*dc.Event{
		{Seq: 1, Type: "operation.declared", Time: at, Actor: dc.Actor{Party: "alpha", Role: "operator"},
			Subject: &dc.Subject{Kind: "operation", ID: "op-1"}, Data: []byte(`{"operation":{"id":"op-1","version":1}}`)},
		{Seq: 2, Type: "operation.received", Time: at, Actor: dc.Actor{Role: "node"}, Audience: []string{"alpha", "bravo"},
			Subject: &dc.Subject{Kind: "operation", ID: "op-1"}, Data: []byte(`{"node_receipt":{"entry":0,"receiver":["bravo"]},"replicated":{"node":"k"}}`)},
		{Seq: 3, Type: "settings.changed", Time: at, Data: []byte(`{"a":1,"a":2,"s":"\ud800é"}`)},
		{Seq: 4, Type: "party.added", Time: at},
	} {
		b := MarshalledEntryBytes(e)
		f.Add(b)
		f.Add(append(append([]byte{}, b...), ' '))
		f.Add(bytes.Replace(b, []byte(`"seq"`), []byte(`"SEQ"`), 1))
		f.Add(bytes.Replace(b, []byte(`"audience"`), []byte(`"extra":0,"audience"`), 1))
		f.Add(bytes.Replace(b, []byte(`"type"`), []byte(`"seq":9,"type"`), 1))
		f.Add(append(bytes.Clone(b[:len(b)-1]), `,"extra":0}`...))
		f.Add(append(bytes.Clone(b[:len(b)-1]), `,"data":null}`...))
	}
	f.Add([]byte(`{"seq":1,"type":"x","time":"2026-03-01T10:00:00Z","actor":{"party":"","role":""},"subject":null,"audience":[],"data":null}`))
	f.Add([]byte("{\"seq\":1,\"type\":\"\xff\",\"time\":\"2026-03-01T10:00:00Z\",\"actor\":{\"party\":\"\",\"role\":\"\"},\"subject\":null,\"audience\":[],\"data\":null}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseEntry(data)
		want, werr := parseEntryV1(data)
		if (err == nil) != (werr == nil) {
			t.Fatalf("parseEntry error %v, encoding/json's %v, for %q", err, werr, data)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseEntry reads %+v, encoding/json %+v, from %q", got, want, data)
		}
		if !bytes.Equal(EntryBytes(got), data) {
			t.Fatalf("accepted %q, which is not EntryBytes of what it read", data)
		}
		if plain, ok := parsePlainEntry(data); ok {
			full, err := parseEntryJSON(data)
			if err != nil || !reflect.DeepEqual(plain, full) {
				t.Fatalf("parsePlainEntry reads %+v, parseEntryJSON %+v (%v), from %q", plain, full, err, data)
			}
		}
	})
}
