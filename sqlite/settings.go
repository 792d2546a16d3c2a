package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/deconflict/deconflict"
)

// Settings returns the stored settings, or the default ones if none were
// ever stored.
func (t *tx) Settings(ctx context.Context) (deconflict.Settings, error) {
	if s, ok := t.keptSettings(ctx); ok {
		return s, nil
	}
	var doc string
	err := t.queryRow(ctx, "SELECT doc FROM settings WHERE id = 1").Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		s := deconflict.DefaultSettings()
		t.keepSettings(ctx, s)
		return s, nil
	} else if err != nil {
		return deconflict.Settings{}, fmt.Errorf("select settings: %w", err)
	}
	s := deconflict.DefaultSettings() // a setting added later takes its default
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		return deconflict.Settings{}, fmt.Errorf("decode settings: %w", err)
	}
	t.keepSettings(ctx, s)
	return s, nil
}

// PutSettings stores the settings in place of the previous ones.
func (t *tx) PutSettings(ctx context.Context, s deconflict.Settings) error {
	t.changeKept()
	doc, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	if _, err := t.exec(ctx, `INSERT INTO settings (id, doc) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, string(doc)); err != nil {
		return fmt.Errorf("update settings: %w", err)
	}
	return nil
}
