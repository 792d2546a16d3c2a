package deconflict

import "math"

// Settings are the agreed rules of the mechanism (contract section 7).
type Settings struct {
	HorizontalM float64 `json:"horizontal_m"`
	VerticalM   float64 `json:"vertical_m"`
	TimeS       float64 `json:"time_s"`
	NoticeS     float64 `json:"notice_s"`
	AckTimeoutS float64 `json:"ack_timeout_s"`
}

// DefaultSettings are the settings of a new mechanism: 5 NM, 1,000 ft,
// five minutes, an hour of notice and five minutes to acknowledge.
func DefaultSettings() Settings {
	return Settings{HorizontalM: 9260, VerticalM: 304.8, TimeS: 300, NoticeS: 3600, AckTimeoutS: 300}
}

// Validate checks that every setting is a sensible finite number.
func (s Settings) Validate() error {
	for _, f := range []struct {
		name  string
		v     float64
		zero  bool
		limit float64
	}{
		{"horizontal_m", s.HorizontalM, true, 2_000_000},
		{"vertical_m", s.VerticalM, true, 100_000},
		{"time_s", s.TimeS, true, 30 * 86400},
		{"notice_s", s.NoticeS, true, 365 * 86400},
		{"ack_timeout_s", s.AckTimeoutS, false, 30 * 86400},
	} {
		switch {
		case math.IsNaN(f.v) || math.IsInf(f.v, 0):
			return FieldErrorf(EInvalid, f.name, "%s must be a finite number", f.name)
		case f.v < 0 || (!f.zero && f.v == 0):
			return FieldErrorf(EInvalid, f.name, "%s must be positive", f.name)
		case f.v > f.limit:
			return FieldErrorf(EInvalid, f.name, "%s must be at most %g", f.name, f.limit)
		}
	}
	return nil
}
