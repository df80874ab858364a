package enums

import (
	"fmt"
	"io"
	"strconv"
)

func toStrings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func isValid[T comparable](e T, vs []T) bool {
	for _, v := range vs {
		if v == e {
			return true
		}
	}
	return false
}

func marshal(w io.Writer, s string) { _, _ = io.WriteString(w, strconv.Quote(s)) }

// InvalidError is an input that is not a value of the enum.
type InvalidError struct{ Type, Value string }

func (e *InvalidError) Error() string { return fmt.Sprintf("%q is not a valid %s", e.Value, e.Type) }

func unmarshal[T ~string](v any, e *T, vs []T, typ string) error {
	s, ok := v.(string)
	if !ok {
		return &InvalidError{Type: typ, Value: fmt.Sprint(v)}
	}
	if !isValid(T(s), vs) {
		return &InvalidError{Type: typ, Value: s}
	}
	*e = T(s)
	return nil
}
