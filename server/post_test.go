package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// writeAnswer writes what encoding/json writes for a graphql.Response (as
// gqlgen's transport does), the data left as gqlgen wrote it.
func TestWriteAnswerAsEncodingJSON(t *testing.T) {
	yes := true
	for name, resp := range map[string]*graphql.Response{
		"data":        {Data: json.RawMessage(`{"inbox":{"totalCount":3,"edges":[{"cursor":"gqFp"}]}}`)},
		"no data":     {},
		"null data":   {Data: json.RawMessage(`null`)},
		"errors":      {Errors: gqlerror.List{{Message: "your profile does not allow you to read this section", Path: ast.Path{ast.PathName("inbox"), ast.PathIndex(0)}, Extensions: map[string]any{"code": "FORBIDDEN"}}}, Data: json.RawMessage(`{"inbox":null}`)},
		"errors only": {Errors: gqlerror.List{{Message: `bad "input"`, Extensions: map[string]any{"code": "BAD_USER_INPUT", "field": "first"}}}},
		"incremental": {Data: json.RawMessage(`{"a":1}`), Label: "later", Path: ast.Path{ast.PathName("a")}, HasNext: &yes, Extensions: map[string]any{"k": []int{1, 2}}},
	} {
		var got bytes.Buffer
		writeAnswer(&got, resp)
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got.Bytes(), want)
		}
	}
}

// The data goes out as written: encoding/json would also escape <, > and &
// in it; both decode to the same value.
func TestWriteAnswerKeepsTheData(t *testing.T) {
	resp := &graphql.Response{Data: json.RawMessage(`{"name":"Soins <palliatifs> & support"}`)}
	var got bytes.Buffer
	writeAnswer(&got, resp)
	if want := `{"data":{"name":"Soins <palliatifs> & support"}}`; got.String() != want {
		t.Fatalf("got %s, want %s", got.String(), want)
	}
	enc, _ := json.Marshal(resp)
	var a, b any
	if json.Unmarshal(got.Bytes(), &a) != nil || json.Unmarshal(enc, &b) != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("%s and %s differ once decoded", got.Bytes(), enc)
	}
}

// The buffered response takes the answer writeAnswer built without copying
// it, and a later write still goes after it.
func TestBufferedResponseAdoptsTheAnswer(t *testing.T) {
	resp := &graphql.Response{Data: json.RawMessage(`{"inbox":{"totalCount":3}}`)}
	var want bytes.Buffer
	writeAnswer(&want, resp)

	rec := &bufferedResponse{}
	writeAnswer(rec, resp)
	if rec.adopted == nil || rec.body.Len() != 0 {
		t.Errorf("the answer was copied (adopted %d bytes, body %d)", len(rec.adopted), rec.body.Len())
	}
	if !bytes.Equal(rec.bytes(), want.Bytes()) {
		t.Errorf("got %s, want %s", rec.bytes(), want.Bytes())
	}
	_, _ = rec.Write([]byte("\n"))
	if got := string(rec.bytes()); got != want.String()+"\n" {
		t.Errorf("after a later write: %q", got)
	}
	// Something written first: the answer is appended, not adopted.
	rec = &bufferedResponse{}
	_, _ = rec.Write([]byte("x"))
	writeAnswer(rec, resp)
	if got := string(rec.bytes()); got != "x"+want.String() {
		t.Errorf("after an earlier write: %q", got)
	}
}
