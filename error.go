package deconflict

import (
	"errors"
	"fmt"
)

// Error codes. Package http maps each one to exactly one HTTP status.
const (
	EInvalid            = "invalid_argument"
	EUnauthenticated    = "unauthenticated"
	EPermission         = "permission_denied"
	ENotFound           = "not_found"
	EConflictUnresolved = "conflict_unresolved"
	EInvalidTransition  = "invalid_transition"
	EVersionMismatch    = "version_mismatch"
	ETooLarge           = "too_large"
	EPrecondition       = "precondition_required"
	ERateLimited        = "rate_limited"
	EExists             = "already_exists"
	EUnavailable        = "unavailable"
	EInternal           = "internal"
	// EForbidden refuses a request to act for a party that another
	// federation node hosts (contract section 13).
	EForbidden = "forbidden"
	// EPeerUnreachable refuses an activation while a federation peer is
	// stale and no head has recorded an override.
	EPeerUnreachable = "peer_unreachable"
)

// Error is the one error type of the mechanism. Code is one of the E*
// constants, Message is meant for a person, Field is the path of the one
// input field at fault (such as "volumes[0].time_end.value"), if any.
// Conflicts carries the open conflicts that block an activation.
type Error struct {
	Code      string
	Message   string
	Field     string
	Conflicts []*Conflict
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error about one input field.
func FieldErrorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error,
// EInternal for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the message of err if it is (or wraps) an *Error,
// and a generic message for any other error, whose text may hold internals.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
