package storeval

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/deconflict/deconflict"
)

// Rows are the rows of an answer, read one at a time.
type Rows interface {
	Row
	Next() bool
	Err() error
}

// Page runs a list query on q and scans up to limit of its rows with
// scan, which also returns each row's seq, ending early once the rows
// scanned pass maxBytes (0: no bound; see deconflict.MaxPageBytes). The
// query asks for one row more than limit, to know whether another page
// follows. It returns the cursor of the next page, or "" after the last.
// noun names the list in errors.
func Page[T any](ctx context.Context, q Querier, noun, query string, args []any, limit, maxBytes int, scan func(Row) (T, int64, error)) ([]T, string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("select %s: %w", noun, err)
	}
	defer rows.Close()
	var out []T
	var last int64
	sized := &SizedRow{Row: rows}
	for rows.Next() {
		if len(out) == limit || Full(sized.Bytes, maxBytes) {
			return out, EncodeCursor(last), nil
		}
		v, seq, err := scan(sized)
		if err != nil {
			return nil, "", fmt.Errorf("select %s: %w", noun, err)
		}
		out, last = append(out, v), seq
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("select %s: %w", noun, err)
	}
	return out, "", nil
}

// List runs a query on q and scans every row of its answer with scan.
func List[T any](ctx context.Context, q Querier, query string, args []any, scan func(Row) (T, error)) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// FromNullMicros returns the time stored as v, or nil for NULL.
func FromNullMicros(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := FromMicros(*v)
	return &t
}

// Live is the SQL condition of a live (planned or active) operation, on
// the state column of the operations table.
const Live = "state IN ('" + string(deconflict.StatePlanned) + "', '" + string(deconflict.StateActive) + "')"

// PartyColumns are the columns ScanParty reads, in its order.
const PartyColumns = "id, name, created_at, keys"

// OperationColumns are the columns ScanOperation reads, in its order.
const OperationColumns = "seq, rev, t_start, t_end, doc"

// ScanOperation reads the OperationColumns of a row.
func ScanOperation(s Row) (*deconflict.Operation, int64, error) {
	var seq, rev, start, end int64
	var doc string
	if err := s.Scan(&seq, &rev, &start, &end, &doc); err != nil {
		return nil, 0, err
	}
	var op deconflict.Operation
	if err := decodeDoc(doc, &op); err != nil {
		return nil, 0, fmt.Errorf("decode operation: %w", err)
	}
	op.Rev = rev
	op.Start = FromMicros(start)
	op.End = FromMicros(end)
	return &op, seq, nil
}

// GeometryColumns are the columns a store reads for GeometryTx after the
// first (whether the operation is live): the geometry or, where none was
// kept, what makes the operation from its document (see FillGeometry).
const GeometryColumns = `id, party, geom, CASE WHEN geom IS NULL THEN rev END,
		CASE WHEN geom IS NULL THEN t_start END, CASE WHEN geom IS NULL THEN t_end END, CASE WHEN geom IS NULL THEN doc END`

// Pair returns the two operation IDs in sorted order.
func Pair(op1, op2 string) (lo, hi string) {
	if op2 < op1 {
		return op2, op1
	}
	return op1, op2
}

// StoredConflict returns a copy of c with its times as they read back.
func StoredConflict(c *deconflict.Conflict) *deconflict.Conflict {
	s := *c
	s.DetectedAt = NormTime(c.DetectedAt)
	s.ClosedAt = NormTimePtr(c.ClosedAt)
	s.UpdatedAt = NormTime(c.UpdatedAt)
	s.Acknowledged = NormTimeMap(c.Acknowledged)
	s.Waived = NormTimeMap(c.Waived)
	return &s
}

// ScanConflict reads the seq and doc of a row.
func ScanConflict(s Row) (*deconflict.Conflict, int64, error) {
	var seq int64
	var doc string
	if err := s.Scan(&seq, &doc); err != nil {
		return nil, 0, err
	}
	if c, ok := scanConflictDoc(doc); ok {
		return c, seq, nil
	}
	var c deconflict.Conflict
	if err := decodeDoc(doc, &c); err != nil {
		return nil, 0, fmt.Errorf("decode conflict: %w", err)
	}
	return &c, seq, nil
}

// DutyColumns are the columns ScanDuty reads, in its order.
const DutyColumns = "seq, id, subject_kind, subject_id, version, party, level, created_at, due_at, acked_at, raised_at, cleared_at"

// ScanDuty reads the DutyColumns of a row.
func ScanDuty(s Row) (*deconflict.Duty, int64, error) {
	var d deconflict.Duty
	var seq, created int64
	var due, acked, raised, cleared *int64
	if err := s.Scan(&seq, &d.ID, &d.Subject.Kind, &d.Subject.ID, &d.Version, &d.Party, &d.Level,
		&created, &due, &acked, &raised, &cleared); err != nil {
		return nil, 0, err
	}
	d.CreatedAt = FromMicros(created)
	d.DueAt = FromNullMicros(due)
	d.AckedAt = FromNullMicros(acked)
	d.RaisedAt = FromNullMicros(raised)
	d.ClearedAt = FromNullMicros(cleared)
	return &d, seq, nil
}

// EventColumns are the columns ScanEvent reads, in its order.
const EventColumns = "seq, type, time, actor_party, actor_role, actor_token, subject_kind, subject_id, audience, data"

// ScanEvent reads the EventColumns of a row.
func ScanEvent(s Row) (*deconflict.Event, error) {
	var e deconflict.Event
	var at int64
	var role, audience string
	var kind, id *string
	var data []byte
	if err := s.Scan(&e.Seq, &e.Type, &at, &e.Actor.Party, &role, &e.Actor.TokenID, &kind, &id, &audience, &data); err != nil {
		return nil, err
	}
	e.Time = FromMicros(at)
	e.Actor.Role = deconflict.Role(role)
	if kind != nil {
		e.Subject = &deconflict.Subject{Kind: *kind}
		if id != nil {
			e.Subject.ID = *id
		}
	}
	if a, ok := scanAudience(audience); ok {
		e.Audience = a
	} else if err := decodeDoc(audience, &e.Audience); err != nil {
		return nil, fmt.Errorf("decode event %d audience: %w", e.Seq, err)
	}
	if data != nil {
		e.Data = data
	}
	return &e, nil
}

// ScanEvents reads the EventColumns of rows, ending early once the
// events' Data pass maxBytes (0: no bound). The caller closes rows.
func ScanEvents(rows Rows, maxBytes int) ([]*deconflict.Event, error) {
	var es []*deconflict.Event
	size := 0
	for rows.Next() {
		if Full(size, maxBytes) {
			break
		}
		e, err := ScanEvent(rows)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
		size += len(e.Data)
	}
	return es, rows.Err()
}

// MessageColumns are the columns ScanMessage reads, in its order.
const MessageColumns = "seq, from_token, doc"

// ScanMessage reads the MessageColumns of a row.
func ScanMessage(s Row) (*deconflict.Message, int64, error) {
	var seq int64
	var token, doc string
	if err := s.Scan(&seq, &token, &doc); err != nil {
		return nil, 0, err
	}
	var m deconflict.Message
	if err := decodeDoc(doc, &m); err != nil {
		return nil, 0, fmt.Errorf("decode message: %w", err)
	}
	m.From.TokenID = token
	return &m, seq, nil
}

// ScanParty reads the PartyColumns of a row.
func ScanParty(s Row) (*deconflict.Party, error) {
	var p deconflict.Party
	var created int64
	var keys string
	if err := s.Scan(&p.ID, &p.Name, &created, &keys); err != nil {
		return nil, err
	}
	p.CreatedAt = FromMicros(created)
	if err := json.Unmarshal([]byte(keys), &p.Keys); err != nil {
		return nil, fmt.Errorf("decode keys of party %s: %w", p.ID, err)
	}
	if len(p.Keys) == 0 {
		p.Keys = nil
	}
	return &p, nil
}

// NonNil returns keys, or an empty list for nil, so that the column
// always holds a JSON list.
func NonNil(keys []string) []string {
	if keys == nil {
		return []string{}
	}
	return keys
}

// TokenColumns are the columns ScanToken reads, in its order.
const TokenColumns = "id, hash, role, party, label, created_at, revoked_at"

// ScanToken reads the TokenColumns of a row.
func ScanToken(s Row) (*deconflict.Token, error) {
	var tok deconflict.Token
	var role string
	var created int64
	var revoked *int64
	if err := s.Scan(&tok.ID, &tok.Hash, &role, &tok.Party, &tok.Label, &created, &revoked); err != nil {
		return nil, err
	}
	tok.Role = deconflict.Role(role)
	tok.CreatedAt = FromMicros(created)
	tok.RevokedAt = FromNullMicros(revoked)
	return &tok, nil
}

// KeyColumns are the columns ScanKey reads, in its order.
const KeyColumns = "name, verifier, signer, created_at, retired_at"

// ScanKey reads the KeyColumns of a row.
func ScanKey(s Row) (*deconflict.SigningKey, error) {
	var k deconflict.SigningKey
	var created int64
	var retired *int64
	if err := s.Scan(&k.Name, &k.Verifier, &k.Signer, &created, &retired); err != nil {
		return nil, err
	}
	k.CreatedAt = FromMicros(created)
	k.RetiredAt = FromNullMicros(retired)
	return &k, nil
}

// WebhookColumns are the columns ScanWebhook reads, in its order.
const WebhookColumns = "party, name, url, events, secret, created_at, updated_at, delivery"

// EncodeDelivery returns the JSON of d, with its times as they read back.
func EncodeDelivery(d deconflict.Delivery) (string, error) {
	d.LastAttempt = NormTimePtr(d.LastAttempt)
	d.NextAttempt = NormTimePtr(d.NextAttempt)
	d.FailingSince = NormTimePtr(d.FailingSince)
	b, err := json.Marshal(d)
	return string(b), err
}

// ScanWebhook reads the WebhookColumns of a row.
func ScanWebhook(s Row) (*deconflict.Webhook, error) {
	var w deconflict.Webhook
	var events, delivery string
	var created, updated int64
	if err := s.Scan(&w.Party, &w.Name, &w.URL, &events, &w.Secret, &created, &updated, &delivery); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("decode webhook %s/%s events: %w", w.Party, w.Name, err)
	}
	if err := json.Unmarshal([]byte(delivery), &w.Delivery); err != nil {
		return nil, fmt.Errorf("decode webhook %s/%s delivery: %w", w.Party, w.Name, err)
	}
	w.CreatedAt = FromMicros(created)
	w.UpdatedAt = FromMicros(updated)
	return &w, nil
}
