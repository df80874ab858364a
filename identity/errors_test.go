package identity

import (
	"errors"
	"fmt"
	"testing"
)

func TestFieldError(t *testing.T) {
	e := NewFieldError("ins", "INS key is wrong")
	if got := e.Error(); got != "ins: INS key is wrong" {
		t.Errorf("Error() = %q", got)
	}
	c := e.WithField("input.patient.ins")
	if c.Field != "input.patient.ins" || c.Message != e.Message {
		t.Errorf("WithField = %+v", c)
	}
	if e.Field != "ins" {
		t.Errorf("WithField modified the receiver: %+v", e)
	}
	if (&FieldError{Message: "x"}).Error() != "x" {
		t.Error("empty field should give the bare message")
	}
	var nilErr *FieldError
	if nilErr.WithField("a") != nil {
		t.Error("nil.WithField should be nil")
	}
}

func TestAsFieldErrorAndRenameField(t *testing.T) {
	err := ValidateINS("123")
	fe, ok := AsFieldError(err)
	if !ok || fe.Field != FieldINS {
		t.Fatalf("AsFieldError(%v) = %v, %v", err, fe, ok)
	}
	wrapped := fmt.Errorf("creating patient: %w", err)
	if fe, ok := AsFieldError(wrapped); !ok || fe.Field != FieldINS {
		t.Errorf("AsFieldError on wrapped error = %v, %v", fe, ok)
	}
	renamed := RenameField(err, "input.patient.ins")
	if fe, ok := AsFieldError(renamed); !ok || fe.Field != "input.patient.ins" {
		t.Errorf("RenameField = %v", renamed)
	}
	if RenameField(nil, "x") != nil {
		t.Error("RenameField(nil) should be nil")
	}
	plain := errors.New("boom")
	if RenameField(plain, "x") != plain {
		t.Error("RenameField should leave other errors unchanged")
	}
	if _, ok := AsFieldError(plain); ok {
		t.Error("AsFieldError(plain) should be false")
	}
	// Validators must return a true nil interface on success.
	if err := ValidateINS("185052A00401270"); err != nil {
		t.Errorf("unexpected %v", err)
	}
}

// wantField asserts err is a *FieldError with the given field and message.
func wantField(t *testing.T, err error, field, msg string) {
	t.Helper()
	fe, ok := AsFieldError(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *FieldError", err, err)
	}
	if fe.Field != field {
		t.Errorf("field = %q, want %q", fe.Field, field)
	}
	if msg != "" && fe.Message != msg {
		t.Errorf("message = %q, want %q", fe.Message, msg)
	}
}
