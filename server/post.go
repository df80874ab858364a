package server

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postTransport is the POST side of GraphQL over HTTP, as gqlgen's
// transport.POST does it (content negotiation, status codes, errors),
// except for how the answer is written. gqlgen encodes the response with
// encoding/json, which validates and compacts the data gqlgen has itself
// just written: a tenth of a millisecond for a 50-row inbox page, 6 % of
// its CPU under load (docs/performance.md). Here the data is written as it
// is, and only the small members (errors, extensions) go through
// encoding/json. The graphql-http audit (conformance/) checks the protocol.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

const (
	contentJSON          = "application/json"
	contentGraphQLAnswer = "application/graphql-response+json"
)

func (postTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && r.Method == http.MethodPost && mediaType == contentJSON
}

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := answerContentType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", contentType)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeAnswer(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %v", err)}))
		return
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		// readBody (graphql.go) refuses such bodies before they get here.
		w.WriteHeader(http.StatusBadRequest)
		writeAnswer(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("json request body could not be decoded: %v", err)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, opErr := exec.CreateOperationContext(ctx, &params)
	if opErr != nil {
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			// A document that does not parse or validate: 400 in the
			// GraphQL response media type, 422 in plain JSON (serveBuffered
			// answers 200 to clients that did not ask for the former).
			if contentType == contentGraphQLAnswer {
				w.WriteHeader(http.StatusBadRequest)
			} else {
				w.WriteHeader(http.StatusUnprocessableEntity)
			}
		}
		writeAnswer(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeAnswer(w, responses(ctx))
}

// answerContentType negotiates the answer's media type as gqlgen does:
// plain JSON when the client accepts it (or anything), else the GraphQL
// response type.
func answerContentType(accept string) string {
	if accept == "" {
		return contentJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", contentJSON:
			return contentJSON
		case contentGraphQLAnswer:
			return contentGraphQLAnswer
		}
	}
	return contentGraphQLAnswer
}

// writeAnswer writes a response with the members of graphql.Response, in
// its order and with its omissions; data goes out as written.
func writeAnswer(w io.Writer, resp *graphql.Response) {
	var b bytes.Buffer
	b.Grow(len(resp.Data) + 64)
	b.WriteByte('{')
	member := func(name string, v any) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + name + `":`)
		switch raw := v.(type) {
		case json.RawMessage:
			if raw == nil {
				raw = json.RawMessage("null")
			}
			b.Write(raw)
		default:
			enc, err := json.Marshal(v)
			if err != nil {
				enc = []byte("null")
			}
			b.Write(enc)
		}
	}
	if len(resp.Errors) > 0 {
		member("errors", resp.Errors)
	}
	member("data", resp.Data)
	if resp.Label != "" {
		member("label", resp.Label)
	}
	if len(resp.Path) > 0 {
		member("path", resp.Path)
	}
	if resp.HasNext != nil {
		member("hasNext", *resp.HasNext)
	}
	if len(resp.Extensions) > 0 {
		member("extensions", resp.Extensions)
	}
	b.WriteByte('}')
	if a, ok := w.(interface{ adopt([]byte) bool }); ok && a.adopt(b.Bytes()) {
		return // b is not used again
	}
	_, _ = w.Write(b.Bytes())
}
