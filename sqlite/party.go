package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// CreateParty stores a new party; EExists if its ID is taken.
func (t *tx) CreateParty(ctx context.Context, p *deconflict.Party) error {
	keys, err := json.Marshal(nonNil(p.Keys))
	if err != nil {
		return fmt.Errorf("encode keys of party %s: %w", p.ID, err)
	}
	res, err := t.exec(ctx, `INSERT INTO parties (id, name, created_at, keys) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, p.ID, p.Name, storeval.Micros(p.CreatedAt), string(keys))
	if err != nil {
		return fmt.Errorf("insert party %s: %w", p.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("insert party %s: %w", p.ID, err)
	} else if n == 0 {
		return deconflict.Errorf(deconflict.EExists, "party %q exists", p.ID)
	}
	return nil
}

// Party returns the party with the ID; ENotFound if there is none.
func (t *tx) Party(ctx context.Context, id string) (*deconflict.Party, error) {
	p, err := scanParty(t.queryRow(ctx, "SELECT id, name, created_at, keys FROM parties WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "party %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("select party %s: %w", id, err)
	}
	return p, nil
}

// Parties returns every party, in the order they were created.
func (t *tx) Parties(ctx context.Context) ([]*deconflict.Party, error) {
	rows, err := t.query(ctx, "SELECT id, name, created_at, keys FROM parties ORDER BY rowid")
	if err != nil {
		return nil, fmt.Errorf("select parties: %w", err)
	}
	defer rows.Close()
	var ps []*deconflict.Party
	for rows.Next() {
		p, err := scanParty(rows)
		if err != nil {
			return nil, fmt.Errorf("select parties: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select parties: %w", err)
	}
	return ps, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanParty(s scanner) (*deconflict.Party, error) {
	var p deconflict.Party
	var created int64
	var keys string
	if err := s.Scan(&p.ID, &p.Name, &created, &keys); err != nil {
		return nil, err
	}
	p.CreatedAt = storeval.FromMicros(created)
	if err := json.Unmarshal([]byte(keys), &p.Keys); err != nil {
		return nil, fmt.Errorf("decode keys of party %s: %w", p.ID, err)
	}
	if len(p.Keys) == 0 {
		p.Keys = nil
	}
	return &p, nil
}

// PutPartyKeys replaces the keys of a party; ENotFound if there is none.
func (t *tx) PutPartyKeys(ctx context.Context, id string, keys []string) error {
	b, err := json.Marshal(nonNil(keys))
	if err != nil {
		return fmt.Errorf("encode keys of party %s: %w", id, err)
	}
	res, err := t.exec(ctx, "UPDATE parties SET keys = ? WHERE id = ?", string(b), id)
	if err != nil {
		return fmt.Errorf("update keys of party %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update keys of party %s: %w", id, err)
	} else if n == 0 {
		return deconflict.Errorf(deconflict.ENotFound, "party %q not found", id)
	}
	return nil
}

// nonNil returns keys, or an empty list for nil, so that the column
// always holds a JSON list.
func nonNil(keys []string) []string {
	if keys == nil {
		return []string{}
	}
	return keys
}
