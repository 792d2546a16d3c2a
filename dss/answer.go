package dss

import (
	"strconv"
	"time"

	"github.com/deconflict/deconflict/dss/api"
)

// encodedJSON is an answer's body already encoded: writeJSON writes it as
// it is.
type encodedJSON []byte

// oirChangeAnswer is the answer to an OIR change (o as caller sees it,
// its manager's availability avail, and the subscribers to notify),
// encoded. It writes the common answer (plain ASCII strings, no
// subscribers) itself, byte for byte what encoding/json makes of
// api.ChangeOperationalIntentReferenceResponse, in a fraction of the
// time; any other it leaves to encoding/json.
func oirChangeAnswer(o *oir, caller string, avail api.UssAvailabilityState, subs []api.SubscriberToNotify) any {
	if b, ok := appendOIRChange(make([]byte, 0, 640), o, caller, avail, subs); ok {
		return encodedJSON(b)
	}
	return &api.ChangeOperationalIntentReferenceResponse{OperationalIntentReference: oirRefAs(o, caller, avail), Subscribers: subs}
}

// appendOIRChange appends the encoding of the answer to an OIR change, if
// it is a common one (see oirChangeAnswer).
func appendOIRChange(b []byte, o *oir, caller string, avail api.UssAvailabilityState, subs []api.SubscriberToNotify) ([]byte, bool) {
	if len(subs) != 0 || !plainTime(o.Start) || !plainTime(o.End) {
		return b, false
	}
	sub := o.SubscriptionID
	if sub == "" {
		sub = nullSubscription
	}
	ok := true
	str := func(s string) {
		if ok = ok && plainString(s); ok {
			b = append(b, '"')
			b = append(b, s...)
			b = append(b, '"')
		}
	}
	b = append(b, `{"operational_intent_reference":{"id":`...)
	str(apiUUID(o.ID).String())
	b = append(b, `,"manager":`...)
	str(o.Manager)
	b = append(b, `,"ovn":`...)
	str(ovnFor(o.Manager, o.OVN, caller))
	b = append(b, `,"state":`...)
	str(o.State)
	b = append(b, `,"subscription_id":`...)
	str(apiUUID(sub).String())
	b = append(b, `,"time_end":{"format":"RFC3339","value":"`...)
	b = o.End.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"},"time_start":{"format":"RFC3339","value":"`...)
	b = o.Start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"},"uss_availability":`...)
	str(string(avail))
	b = append(b, `,"uss_base_url":`...)
	str(o.USSBaseURL)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(o.Version), 10)
	b = append(b, `},"subscribers":[]}`...)
	return b, ok
}

// plainString reports whether encoding/json writes s as it is between
// quotes: printable ASCII but for the quote, the backslash and the three
// characters it escapes for HTML.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// plainTime reports whether encoding/json writes t in UTC as RFC 3339
// with nanoseconds, which it does for the years 0 to 9999.
func plainTime(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}
