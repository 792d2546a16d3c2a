package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	dc "github.com/deconflict/deconflict"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// entryHead is the part of an entry before its data, in the order the
// fields are written. Its own types freeze the format: a change to
// deconflict.Subject or deconflict.Actor must not change old entries.
type entryHead struct {
	Seq      int64         `json:"seq"`
	Type     string        `json:"type"`
	Time     string        `json:"time"`
	Actor    entryActor    `json:"actor"`
	Subject  *entrySubject `json:"subject"`
	Audience []string      `json:"audience"`
}

type entryActor struct {
	Party string `json:"party"`
	Role  string `json:"role"`
}

type entrySubject struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// entryJSON is an entry as read back: the head and the data.
type entryJSON struct {
	entryHead
	Data json.RawMessage `json:"data"`
}

// EntryBytes is the exact byte string hashed into the log for an event
// (its leaf is tlog.RecordHash(EntryBytes(e))): one JSON object, without
// insignificant white space and without a trailing newline,
//
//	{"seq":1,"type":"operation.declared","time":"2026-03-01T10:00:00.123456Z",
//	 "actor":{"party":"alpha","role":"operator"},"subject":{"kind":"operation","id":"…"},
//	 "audience":[],"data":{…}}
//
// time is e.Time in UTC as time.RFC3339Nano writes it; subject is null when
// the event has none; audience is [] when every party may see the event;
// data is e.Data byte for byte (less white space around it), or null when
// it is empty. (Data that is not
// valid UTF-8 JSON, which the mechanism never writes, is embedded as a
// JSON string so that the entry stays valid JSON.) The actor's token is
// never part of an entry.
//
// The result depends only on the fields above, so the event as a store
// reads it back must give the same bytes as the event that was appended:
// the same Time (to the nanosecond) and the same Data bytes.
func EntryBytes(e *dc.Event) []byte { return entryBytes(e, false) }

// MarshalledEntryBytes is EntryBytes for an event whose Data, if any, is
// what json.Marshal wrote, as the body of every event the mechanism
// appends is: it does not scan Data again to know it is JSON (its UTF-8
// is still checked). Data that is not JSON (a damaged store) gives bytes
// whose leaf hash is not the one logged for the event, which a reader of
// the log finds.
func MarshalledEntryBytes(e *dc.Event) []byte { return entryBytes(e, true) }

// entryBytes is EntryBytes; marshalled says that e.Data, if any, is what
// json.Marshal wrote, which is valid JSON without a check (json.Valid
// would scan every event's body again on the single writer). Its UTF-8 is
// still checked:
// Marshal copies a RawMessage or a MarshalJSON result without checking
// the UTF-8 inside its strings.
func entryBytes(e *dc.Event, marshalled bool) []byte {
	data := bytes.TrimSpace(e.Data)
	out := make([]byte, 0, 256+len(data))
	out, ok := appendPlainHead(out, e)
	if !ok {
		out = appendHead(out, e)
	}
	out = append(out, `,"data":`...)
	switch {
	case len(data) == 0:
		out = append(out, "null"...)
	case utf8.Valid(data) && (marshalled || json.Valid(data)):
		out = append(out, data...)
	default:
		s, _ := json.Marshal(string(data)) // invalid UTF-8 becomes U+FFFD
		out = append(out, s...)
	}
	return append(out, '}')
}

// appendHead appends the entry's head as encoding/json writes entryHead
// (HTML characters unescaped), without its closing brace.
func appendHead(out []byte, e *dc.Event) []byte {
	h := entryHead{
		Seq:      e.Seq,
		Type:     e.Type,
		Time:     e.Time.UTC().Format(time.RFC3339Nano),
		Actor:    entryActor{Party: e.Actor.Party, Role: string(e.Actor.Role)},
		Audience: e.Audience,
	}
	if h.Audience == nil {
		h.Audience = []string{}
	}
	if e.Subject != nil {
		h.Subject = &entrySubject{Kind: e.Subject.Kind, ID: e.Subject.ID}
	}
	buf := bytes.NewBuffer(out)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		// Strings, numbers and slices of strings always encode.
		panic("record: encode entry head: " + err.Error())
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	return b[:len(b)-1]
}

// appendPlainHead is appendHead for an event whose strings are all
// plain (plain), which encoding/json writes between quotes as they are:
// the same bytes, written without reflection. It reports false, having
// appended nothing, for an event with any other string.
func appendPlainHead(out []byte, e *dc.Event) ([]byte, bool) {
	if !plain(e.Type) || !plain(e.Actor.Party) || !plain(string(e.Actor.Role)) ||
		e.Subject != nil && (!plain(e.Subject.Kind) || !plain(e.Subject.ID)) {
		return out, false
	}
	for _, a := range e.Audience {
		if !plain(a) {
			return out, false
		}
	}
	out = append(out, `{"seq":`...)
	out = strconv.AppendInt(out, e.Seq, 10)
	out = append(out, `,"type":"`...)
	out = append(out, e.Type...)
	out = append(out, `","time":"`...)
	// RFC 3339 times are plain.
	out = e.Time.UTC().AppendFormat(out, time.RFC3339Nano)
	out = append(out, `","actor":{"party":"`...)
	out = append(out, e.Actor.Party...)
	out = append(out, `","role":"`...)
	out = append(out, e.Actor.Role...)
	out = append(out, `"},"subject":`...)
	if e.Subject == nil {
		out = append(out, "null"...)
	} else {
		out = append(out, `{"kind":"`...)
		out = append(out, e.Subject.Kind...)
		out = append(out, `","id":"`...)
		out = append(out, e.Subject.ID...)
		out = append(out, `"}`...)
	}
	out = append(out, `,"audience":[`...)
	for i, a := range e.Audience {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, a...)
		out = append(out, '"')
	}
	return append(out, ']'), true
}

// plain reports whether encoding/json writes s as it is between quotes
// (with HTML characters unescaped): printable ASCII other than the quote
// and the backslash.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// entryWire is an entry as parseEntry reads it: the head and the data.
type entryWire struct {
	entryHead
	Data jsontext.Value `json:"data"`
}

// parseOptions are those parseEntry reads an entry with: an unknown
// member is refused, and the data is taken as any JSON value, as
// encoding/json takes a json.RawMessage (names repeated in an object and
// escapes of invalid UTF-8 included), for an entry whose data a store
// holds as the log wrote it. What else either reader lets through, the
// check against EntryBytes refuses.
var parseOptions = jsonv2.JoinOptions(jsonv2.RejectUnknownMembers(true), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// parseEntry reads entry bytes back into an event (without the actor's
// token). It fails unless data is exactly what EntryBytes writes for that
// event, so that what a verifier reads is what was hashed. It reads the
// JSON with go-json-experiment/json, in one pass where encoding/json
// takes two: a node parses every entry of its peers' logs it may see.
func parseEntry(data []byte) (*dc.Event, error) {
	if e, ok := parsePlainEntry(data); ok {
		return e, nil
	}
	return parseEntryJSON(data)
}

// parseEntryJSON is parseEntry reading any entry as JSON.
func parseEntryJSON(data []byte) (*dc.Event, error) {
	var w entryWire
	if err := jsonv2.Unmarshal(data, &w, parseOptions); err != nil {
		return nil, fmt.Errorf("not an entry: %v", err)
	}
	j := entryJSON{entryHead: w.entryHead, Data: json.RawMessage(w.Data)}
	e, err := j.event()
	if err != nil {
		return nil, err
	}
	// j.Data is what the decoder read as JSON: EntryBytes need not scan
	// it again to know it is JSON (entryBytes still checks its UTF-8).
	if !bytes.Equal(entryBytes(e, true), data) {
		return nil, fmt.Errorf("entry is not in the canonical form the log writes")
	}
	return e, nil
}

// DecodeEntry reads entry bytes that parseEntry (ParseEntry) has already
// accepted, such as a peer's entries a federation node checked when it
// kept them, into an event, without checking their form again.
func DecodeEntry(data []byte) (*dc.Event, error) {
	var j entryJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("not an entry: %v", err)
	}
	return j.event()
}

// event returns the event an entry's JSON holds.
func (j *entryJSON) event() (*dc.Event, error) {
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return nil, fmt.Errorf("entry time %q: %v", j.Time, err)
	}
	e := &dc.Event{
		Seq:      j.Seq,
		Type:     j.Type,
		Time:     t.UTC(),
		Actor:    dc.Actor{Party: j.Actor.Party, Role: dc.Role(j.Actor.Role)},
		Audience: j.Audience,
	}
	if j.Subject != nil {
		e.Subject = &dc.Subject{Kind: j.Subject.Kind, ID: j.Subject.ID}
	}
	if !bytes.Equal(j.Data, []byte("null")) {
		e.Data = j.Data
	}
	return e, nil
}

// parsePlainEntry is parseEntry for an entry whose head's strings are
// all plain, as appendPlainHead writes them, read without reflection: it
// reports false for any other bytes, which parseEntry then reads in full.
// What it accepts is what parseEntry accepts, read alike: bytes that are
// EntryBytes of the event read, whose data is JSON as encoding/json
// reads it (FuzzParseEntry).
func parsePlainEntry(b []byte) (*dc.Event, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"seq":`))
	i := bytes.IndexByte(rest, ',')
	if !ok || i < 1 {
		return nil, false
	}
	seq, err := strconv.ParseInt(string(rest[:i]), 10, 64)
	if err != nil {
		return nil, false
	}
	e := &dc.Event{Seq: seq}
	var at, role string
	rest = rest[i:]
	for _, f := range []struct {
		prefix string
		to     *string
	}{{`,"type":"`, &e.Type}, {`","time":"`, &at}, {`","actor":{"party":"`, &e.Actor.Party}, {`","role":"`, &role}} {
		if *f.to, rest, ok = plainString(rest, f.prefix); !ok {
			return nil, false
		}
	}
	e.Actor.Role = dc.Role(role)
	if rest, ok = bytes.CutPrefix(rest, []byte(`"},"subject":`)); !ok {
		return nil, false
	}
	if r, null := bytes.CutPrefix(rest, []byte("null")); null {
		rest = r
	} else {
		e.Subject = &dc.Subject{}
		if e.Subject.Kind, rest, ok = plainString(rest, `{"kind":"`); !ok {
			return nil, false
		}
		if e.Subject.ID, rest, ok = plainString(rest, `","id":"`); !ok {
			return nil, false
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(`"}`)); !ok {
			return nil, false
		}
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"audience":[`)); !ok {
		return nil, false
	}
	e.Audience = []string{}
	if len(rest) > 0 && rest[0] != ']' {
		for sep := `"`; ; sep = `","` {
			var a string
			if a, rest, ok = plainString(rest, sep); !ok {
				return nil, false
			}
			e.Audience = append(e.Audience, a)
			if r, end := bytes.CutPrefix(rest, []byte(`"]`)); end {
				rest = r
				break
			}
		}
	} else if len(rest) > 0 {
		rest = rest[1:]
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"data":`)); !ok || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return nil, false
	}
	// The whole entry is checked as JSON, as parseEntryJSON reads it
	// (the data's nesting counts from the entry's), and the data as one
	// value: what follows "data": up to the last brace could also be a
	// value and more members (another data among them), which the log
	// never writes and encoding/json would read another way.
	data := rest[:len(rest)-1]
	if !jsontext.Value(b).IsValid(parseOptions) || !jsontext.Value(data).IsValid(parseOptions) {
		return nil, false
	}
	if !bytes.Equal(data, []byte("null")) {
		e.Data = bytes.Clone(data)
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return nil, false
	}
	e.Time = t.UTC()
	// The bytes the log would write for what was read: anything else
	// (another spelling of the time or the number, white space) is read
	// in full, and refused there.
	if !bytes.Equal(entryBytes(e, true), b) {
		return nil, false
	}
	return e, true
}

// plainString reads, after prefix, a plain string (plain) up to the
// next quote, and returns it and the rest from that closing quote on,
// with which the next prefix begins.
func plainString(b []byte, prefix string) (string, []byte, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(prefix))
	i := bytes.IndexByte(rest, '"')
	if !ok || i < 0 || !plain(string(rest[:i])) {
		return "", nil, false
	}
	return string(rest[:i]), rest[i:], true
}
