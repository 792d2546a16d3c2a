package http

import (
	"bytes"
	"encoding/json"

	dc "github.com/deconflict/deconflict"
)

// eventJSON encodes an event as the contract shows it: seq, type, time,
// actor and subject, with the fields of its body alongside them.
func eventJSON(e *dc.Event) ([]byte, error) {
	head, err := json.Marshal(struct {
		Seq     int64       `json:"seq"`
		Type    string      `json:"type"`
		Time    any         `json:"time"`
		Actor   dc.Actor    `json:"actor"`
		Subject *dc.Subject `json:"subject,omitempty"`
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

// eventList is a JSON page of events.
type eventList []*dc.Event

// MarshalJSON implements json.Marshaler.
func (l eventList) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, e := range l {
		if i > 0 {
			buf.WriteByte(',')
		}
		b, err := eventJSON(e)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}
