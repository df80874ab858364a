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

func unmarshal[T ~string](v any, e *T, vs []T, typ string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%s must be a string", typ)
	}
	if !isValid(T(s), vs) {
		return fmt.Errorf("%q is not a valid %s", s, typ)
	}
	*e = T(s)
	return nil
}
