// Package ide serves an in-browser GraphQL IDE (GraphiQL 4) that works
// without internet access: every script, style sheet and font is embedded in
// the binary and served from the same origin.
//
// The page talks to the GraphQL API at /graphql on the same origin (HTTP POST
// for queries and mutations, graphql-ws over a websocket for subscriptions),
// wherever the IDE itself is mounted. See assets/README.md for the vendored
// files and how to refresh them.
package ide

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed index.html assets/*.js assets/*.css assets/*.svg
var files embed.FS

// ContentSecurityPolicy is sent with every response of Handler. Scripts and
// styles come only from the same origin (GraphiQL injects a few <style>
// elements at run time, hence 'unsafe-inline' for styles only); the fonts and
// a few images of GraphiQL's style sheet are data: URLs. connect-src allows
// the same origin for HTTP and any ws:/wss: endpoint for subscriptions, so
// that it still works behind a proxy that rewrites Host.
const ContentSecurityPolicy = "default-src 'self'; " +
	"script-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; " +
	"font-src 'self' data:; " +
	"connect-src 'self' ws: wss:; " +
	"object-src 'none'; " +
	"frame-ancestors 'none'; " +
	"base-uri 'none'; " +
	"form-action 'none'"

const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

type file struct {
	body    []byte
	ctype   string
	version string // first 16 hex digits of the SHA-256 of body

	gzipOnce sync.Once
	gzipped  []byte // nil when compressing does not pay off
}

type site struct {
	index  *file
	assets map[string]*file // keyed by path relative to the mount root, e.g. "assets/ide.js"
}

var loadSite = sync.OnceValue(func() *site {
	s := &site{assets: map[string]*file{}}
	entries, err := files.ReadDir("assets")
	if err != nil {
		panic("ide: reading embedded assets: " + err.Error())
	}
	html, err := files.ReadFile("index.html")
	if err != nil {
		panic("ide: reading embedded index.html: " + err.Error())
	}
	page := string(html)
	for _, e := range entries {
		name := "assets/" + e.Name()
		body, err := files.ReadFile(name)
		if err != nil {
			panic("ide: reading embedded " + name + ": " + err.Error())
		}
		f := newFile(body, contentType(name))
		s.assets[name] = f
		// Version the asset URLs so that browsers may cache them for good.
		page = strings.ReplaceAll(page, `"`+name+`"`, `"`+name+`?v=`+f.version+`"`)
	}
	s.index = newFile([]byte(page), "text/html; charset=utf-8")
	return s
})

func newFile(body []byte, ctype string) *file {
	sum := sha256.Sum256(body)
	return &file{body: body, ctype: ctype, version: hex.EncodeToString(sum[:8])}
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".html":
		return "text/html; charset=utf-8"
	}
	return "application/octet-stream"
}

// gzipBody returns the gzip encoding of the body, or nil if it is not worth it.
func (f *file) gzipBody() []byte {
	f.gzipOnce.Do(func() {
		if len(f.body) < 1024 {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(f.body)
		zw.Close()
		if buf.Len() < len(f.body)*9/10 {
			f.gzipped = buf.Bytes()
		}
	})
	return f.gzipped
}

// Handler returns the IDE handler. It serves the page at the root of where it
// is mounted ("/" after any http.StripPrefix) and the files it needs under
// "assets/", with relative URLs, so it works mounted at "/" as well as under
// a prefix such as "/playground/" (use Mount, or http.StripPrefix and a
// redirect from "/playground" to "/playground/").
//
// Only GET and HEAD are allowed (405 otherwise); unknown paths get 404. Every
// response carries ContentSecurityPolicy, X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer and X-Frame-Options: DENY. Asset URLs in the
// page carry a content hash (?v=...), and such requests are cached for a
// year; the page itself and unversioned requests must be revalidated (ETag).
func Handler() http.Handler {
	return handler{site: loadSite()}
}

type handler struct{ site *site }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		hdr.Set("Cache-Control", "no-store")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}

	var f *file
	cache := cacheRevalidate
	switch p := strings.TrimPrefix(r.URL.Path, "/"); p {
	case "", "index.html":
		f = h.site.index
	default:
		f = h.site.assets[p]
		if f != nil && r.URL.Query().Get("v") == f.version {
			cache = cacheImmutable
		}
	}
	if f == nil {
		hdr.Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}

	body, etag := f.body, `"`+f.version+`"`
	if gz := f.gzipBody(); gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body, etag = gz, `"`+f.version+`-gz"`
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("Cache-Control", cache)
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether Accept-Encoding values allow gzip: listed
// with a non-zero q, or not listed and "*" allowed.
func acceptsGzip(values []string) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = f
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "gzip", "x-gzip":
				gzipQ = q
			case "*":
				starQ = q
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// Mount registers the IDE on mux under prefix, e.g. "/" or "/playground".
// Under a prefix other than "/", the IDE is served at prefix+"/" with the
// prefix stripped, and mux redirects prefix to prefix+"/" (which the
// relative asset URLs need).
func Mount(mux *http.ServeMux, prefix string) {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		mux.Handle("/", Handler())
		return
	}
	prefix = "/" + prefix
	mux.Handle(prefix+"/", http.StripPrefix(prefix, Handler()))
}
