package deconflict

import "math"

// Settings are the agreed rules of the mechanism (contract section 7).
type Settings struct {
	HorizontalM float64 `json:"horizontal_m"`
	VerticalM   float64 `json:"vertical_m"`
	TimeS       float64 `json:"time_s"`
	NoticeS     float64 `json:"notice_s"`
	AckTimeoutS float64 `json:"ack_timeout_s"`
	// PeerSilenceS is how long a federation peer may stay silent before
	// its link counts as stale (contract section 13).
	PeerSilenceS float64 `json:"peer_silence_s"`
}

// DefaultSettings are the settings of a new mechanism: 5 NM, 1,000 ft,
// five minutes, an hour of notice, five minutes to acknowledge, and a
// minute of silence before a federation peer counts as stale.
func DefaultSettings() Settings {
	return Settings{HorizontalM: 9260, VerticalM: 304.8, TimeS: 300, NoticeS: 3600, AckTimeoutS: 300, PeerSilenceS: 60}
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
		{"peer_silence_s", s.PeerSilenceS, false, 86400},
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

// SettingsPatch is a change of some settings (the body of PUT
// /v1/settings): a nil field keeps the value in force. The mechanism
// applies it to the settings as they stand inside its write transaction,
// so two patches of different fields never undo each other.
type SettingsPatch struct {
	HorizontalM  *float64 `json:"horizontal_m,omitempty"`
	VerticalM    *float64 `json:"vertical_m,omitempty"`
	TimeS        *float64 `json:"time_s,omitempty"`
	NoticeS      *float64 `json:"notice_s,omitempty"`
	AckTimeoutS  *float64 `json:"ack_timeout_s,omitempty"`
	PeerSilenceS *float64 `json:"peer_silence_s,omitempty"`
}

// PatchAll returns the patch that sets every field to its value in s.
func PatchAll(s Settings) SettingsPatch {
	return SettingsPatch{HorizontalM: &s.HorizontalM, VerticalM: &s.VerticalM, TimeS: &s.TimeS, NoticeS: &s.NoticeS, AckTimeoutS: &s.AckTimeoutS, PeerSilenceS: &s.PeerSilenceS}
}

// SettingChange is the old and new value of one setting a patch changed.
type SettingChange struct {
	From float64 `json:"from"`
	To   float64 `json:"to"`
}

// Apply returns s with the patch's fields set, and the settings whose
// value that changed, by their JSON name (a field set to the value it
// had is not a change).
func (p SettingsPatch) Apply(s Settings) (Settings, map[string]SettingChange) {
	changed := map[string]SettingChange{}
	for _, f := range []struct {
		name string
		to   *float64
		at   *float64
	}{
		{"horizontal_m", p.HorizontalM, &s.HorizontalM},
		{"vertical_m", p.VerticalM, &s.VerticalM},
		{"time_s", p.TimeS, &s.TimeS},
		{"notice_s", p.NoticeS, &s.NoticeS},
		{"ack_timeout_s", p.AckTimeoutS, &s.AckTimeoutS},
		{"peer_silence_s", p.PeerSilenceS, &s.PeerSilenceS},
	} {
		if f.to != nil && *f.to != *f.at {
			changed[f.name] = SettingChange{From: *f.at, To: *f.to}
			*f.at = *f.to
		}
	}
	return s, changed
}
