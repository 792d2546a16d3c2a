package mechanism

import (
	"context"

	dc "github.com/deconflict/deconflict"
)

// Settings is the part of the mechanism that reads and changes the
// settings in force (separation minima, timeouts, notice): an admin's
// change goes on the record. It is a view over the same Mechanism, kept
// as its own type so that surface can be read alone.
type Settings struct{ m *Mechanism }

// Settings returns the settings view of m.
func (m *Mechanism) Settings() Settings { return Settings{m: m} }

// Get returns the settings in force.
func (st Settings) Get(ctx context.Context) (s dc.Settings, err error) {
	m := st.m
	err = m.store.View(ctx, func(tx dc.Tx) error {
		s, err = tx.Settings(ctx)
		return err
	})
	return s, err
}

// settingsChanged is the body of a settings.changed event: the settings
// before and after, and what this change did, field by field, with the
// admin token that made it. previous and settings differ exactly in the
// fields of changed.
type settingsChanged struct {
	Previous dc.Settings                 `json:"previous"`
	Settings dc.Settings                 `json:"settings"`
	Changed  map[string]dc.SettingChange `json:"changed"`
	// TokenID is the admin token that made the change (its ID, as
	// `deconflict token list` shows it; never its secret).
	TokenID string `json:"token_id,omitempty"`
}

// Patch changes the settings the patch sets, and only those; only
// an admin may. The patch is applied to the settings as they stand in the
// write transaction that stores the result, so concurrent patches of
// different fields all take effect. A change is recorded as one
// settings.changed event naming the fields it changed; a patch that
// changes nothing records nothing. It returns the settings in force after
// it.
func (st Settings) Patch(ctx context.Context, a dc.Actor, p dc.SettingsPatch) (dc.Settings, error) {
	m := st.m
	if !a.Is(dc.RoleAdmin) {
		return dc.Settings{}, dc.Errorf(dc.EPermission, "only an admin may change the settings")
	}
	// Every check of Validate is of one field: the patch applied to
	// valid settings fails exactly on the patch's bad fields.
	if s, _ := p.Apply(dc.DefaultSettings()); s.Validate() != nil {
		return dc.Settings{}, s.Validate()
	}
	var s dc.Settings
	changed := false
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		old, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		var diff map[string]dc.SettingChange
		s, diff = p.Apply(old)
		if len(diff) == 0 {
			return nil
		}
		if err := s.Validate(); err != nil {
			return err
		}
		if err := tx.PutSettings(ctx, s); err != nil {
			return err
		}
		changed = true
		return m.appendEvent(ctx, tx, &dc.Event{
			Type: dc.EventSettingsChanged, Time: m.Now(), Actor: a,
			Subject: &dc.Subject{Kind: dc.SubjectSettings, ID: "settings"},
		}, settingsChanged{Previous: old, Settings: s, Changed: diff, TokenID: a.TokenID})
	})
	if err != nil {
		return dc.Settings{}, err
	}
	if changed {
		m.checkSet.forget() // the next what-if check reads them again
		m.notify()
	}
	return s, nil
}

// Put sets every setting to its value in s; only an admin may.
// It is Patch with a patch of every field.
func (st Settings) Put(ctx context.Context, a dc.Actor, s dc.Settings) (dc.Settings, error) {
	return st.Patch(ctx, a, dc.PatchAll(s))
}
