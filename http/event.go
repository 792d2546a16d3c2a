package http

import (
	"bytes"

	dc "github.com/deconflict/deconflict"
)

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
		b, err := dc.EventJSON(e)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}
