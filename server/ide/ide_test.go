package ide

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// pageURLs parses the HTML page and returns the src/href of every element
// that has one.
func pageURLs(t *testing.T, page []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var urls []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("parsing page: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		for _, a := range el.Attr {
			switch strings.ToLower(a.Name.Local) {
			case "src", "href", "srcset", "action", "formaction", "poster", "data":
				urls = append(urls, a.Value)
			}
		}
	}
	// Cross-check the parser against a plain count of URL attributes.
	n := len(regexp.MustCompile(`(?i)\s(src|href|srcset|action|formaction|poster|data)\s*=`).FindAll(page, -1))
	if n != len(urls) {
		t.Fatalf("parser found %d URL attributes, raw scan %d", len(urls), n)
	}
	return urls
}

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("%s: Content-Security-Policy = %q, want default-src 'self'", what, csp)
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
		t.Errorf("%s: Content-Security-Policy too lax: %q", what, csp)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options = %q", what, got)
	}
	if got := h.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy = %q", what, got)
	}
}

func TestPageReferencesOnlyRelativeURLs(t *testing.T) {
	rec := get(t, Handler(), http.MethodGet, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d", rec.Code)
	}
	page := rec.Body.Bytes()
	urls := pageURLs(t, page)
	if len(urls) < 5 {
		t.Fatalf("page references only %d URLs: %q", len(urls), urls)
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("bad URL %q: %v", raw, err)
			continue
		}
		// Relative to the page, so that it works at / and under /playground/.
		if u.Scheme != "" || u.Host != "" || strings.HasPrefix(raw, "/") || strings.Contains(raw, "//") {
			t.Errorf("URL %q is not relative to the page", raw)
		}
		if !strings.HasPrefix(u.Path, "assets/") {
			t.Errorf("URL %q is not under assets/", raw)
		}
	}
	if regexp.MustCompile(`(?i)https?:|//cdn|<script[^>]*>[^<\s]`).Match(page) {
		t.Errorf("page has an absolute URL or an inline script:\n%s", page)
	}
	for _, want := range []string{"graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js", "ide.js"} {
		if !bytes.Contains(page, []byte(`"assets/`+want+`?v=`)) {
			t.Errorf("page does not load assets/%s with a version", want)
		}
	}
}

// Hosts named in URLs inside the vendored scripts: namespaces, links in
// error messages and comments, none fetched at run time. A refresh that
// brings a new one must be reviewed before it is added here.
var knownJSHosts = map[string]bool{
	"www.w3.org":       true,
	"github.com":       true,
	"reactjs.org":      true,
	"radix-ui.com":     true,
	"en.wikipedia.org": true,
	"commonmark.org":   true,
	"codemirror.net":   true,
}

func TestAssetsFetchNothingExternal(t *testing.T) {
	urlRE := regexp.MustCompile(`(?i)\bhttps?://([a-z0-9.-]*)`)
	cdnRE := regexp.MustCompile(`(?i)//cdn|unpkg\.com|jsdelivr\.net|cdnjs\.|esm\.sh|googleapis\.com|gstatic\.com|typekit\.net|fonts\.[a-z]+\.(com|net)`)
	for name, f := range loadSite().assets {
		if cdnRE.Match(f.body) {
			t.Errorf("%s mentions a CDN: %q", name, cdnRE.Find(f.body))
		}
		switch {
		case strings.HasSuffix(name, ".css"):
			if bytes.Contains(f.body, []byte("@import")) {
				t.Errorf("%s has an @import", name)
			}
			if m := urlRE.Find(f.body); m != nil {
				t.Errorf("%s has an absolute URL %q", name, m)
			}
			for _, m := range regexp.MustCompile(`url\(\s*["']?([^"')]*)`).FindAllSubmatch(f.body, -1) {
				if !bytes.HasPrefix(m[1], []byte("data:")) && !bytes.HasPrefix(m[1], []byte("#")) {
					t.Errorf("%s has url(%.40s): only data: URLs are allowed", name, m[1])
				}
			}
		case strings.HasSuffix(name, ".js"):
			for _, m := range urlRE.FindAllSubmatch(f.body, -1) {
				if host := strings.ToLower(string(m[1])); host != "" && !knownJSHosts[host] {
					t.Errorf("%s names an unreviewed host %q", name, host)
				}
			}
		case strings.HasSuffix(name, ".svg"):
			for _, m := range urlRE.FindAllSubmatch(f.body, -1) {
				if string(m[1]) != "www.w3.org" {
					t.Errorf("%s names host %q", name, m[1])
				}
			}
		}
	}
	ide := loadSite().assets["assets/ide.js"]
	if ide == nil {
		t.Fatal("assets/ide.js not embedded")
	}
	if !bytes.Contains(ide.body, []byte("location")) || urlRE.Match(ide.body) {
		t.Error("ide.js should derive the endpoint from location and name no host")
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := Handler()
	for _, tc := range []struct{ method, target string }{
		{http.MethodGet, "/"},
		{http.MethodHead, "/"},
		{http.MethodGet, "/assets/ide.js"},
		{http.MethodGet, "/nope"},
		{http.MethodPost, "/"},
	} {
		rec := get(t, h, tc.method, tc.target)
		checkSecurityHeaders(t, tc.method+" "+tc.target, rec.Header())
	}
	csp := get(t, h, http.MethodGet, "/").Header().Get("Content-Security-Policy")
	if csp != ContentSecurityPolicy {
		t.Errorf("CSP = %q, want %q", csp, ContentSecurityPolicy)
	}
	for _, d := range []string{"script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP lacks %q", d)
		}
	}
}

func TestAssetsServed(t *testing.T) {
	wantType := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
		".svg": "image/svg+xml",
	}
	for _, prefix := range []string{"/", "/playground"} {
		mux := http.NewServeMux()
		Mount(mux, prefix)
		srv := httptest.NewServer(mux)
		client := srv.Client()

		pageURL := srv.URL + strings.TrimSuffix(prefix, "/") + "/"
		resp, err := client.Get(pageURL)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET %s = %d %q", pageURL, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("page Cache-Control = %q", cc)
		}

		base, _ := url.Parse(pageURL)
		for _, raw := range pageURLs(t, page) {
			ref, _ := url.Parse(raw)
			u := base.ResolveReference(ref)
			resp, err := client.Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s = %d", u, resp.StatusCode)
				continue
			}
			ext := raw[strings.LastIndex(strings.Split(raw, "?")[0], "."):]
			ext = strings.Split(ext, "?")[0]
			if got := resp.Header.Get("Content-Type"); got != wantType[ext] {
				t.Errorf("GET %s: Content-Type %q, want %q", u, got, wantType[ext])
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
				t.Errorf("GET %s: Cache-Control %q, want a long max-age", u, cc)
			}
			name := strings.TrimPrefix(ref.Path, "./")
			if f := loadSite().assets[name]; f == nil || !bytes.Equal(body, f.body) {
				t.Errorf("GET %s: body differs from embedded %s", u, name)
			}
			checkSecurityHeaders(t, "GET "+u.String(), resp.Header)
		}
		srv.Close()
	}
}

func TestPrefixRedirect(t *testing.T) {
	mux := http.NewServeMux()
	Mount(mux, "/playground")
	rec := get(t, mux, http.MethodGet, "/playground")
	if rec.Code/100 != 3 || rec.Header().Get("Location") != "/playground/" {
		t.Errorf("GET /playground = %d to %q, want a redirect to /playground/", rec.Code, rec.Header().Get("Location"))
	}
	if rec := get(t, mux, http.MethodGet, "/playground/assets/ide.js"); rec.Code != http.StatusOK {
		t.Errorf("GET /playground/assets/ide.js = %d", rec.Code)
	}
	if rec := get(t, mux, http.MethodGet, "/assets/ide.js"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /assets/ide.js outside the prefix = %d", rec.Code)
	}
}

func TestCaching(t *testing.T) {
	h := Handler()
	f := loadSite().assets["assets/ide.js"]
	// Unversioned or stale URLs must be revalidated.
	for _, target := range []string{"/assets/ide.js", "/assets/ide.js?v=stale"} {
		rec := get(t, h, http.MethodGet, target)
		if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s = %d, Cache-Control %q", target, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
	rec := get(t, h, http.MethodGet, "/assets/ide.js?v="+f.version)
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if rec := get(t, h, http.MethodGet, "/assets/ide.js", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", rec.Code)
	}
}

func TestGzip(t *testing.T) {
	h := Handler()
	f := loadSite().assets["assets/graphiql.min.js"]
	rec := get(t, h, http.MethodGet, "/assets/graphiql.min.js", "Accept-Encoding", "gzip, deflate, br")
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q", rec.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(body, f.body) {
		t.Fatalf("gunzipped body differs (err %v)", err)
	}
	for _, ae := range []string{"", "identity", "gzip;q=0", "gzip;q=0, *", "br"} {
		rec := get(t, h, http.MethodGet, "/assets/graphiql.min.js", "Accept-Encoding", ae)
		if rec.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec.Body.Bytes(), f.body) {
			t.Errorf("Accept-Encoding %q: got Content-Encoding %q", ae, rec.Header().Get("Content-Encoding"))
		}
	}
}

func TestMethodsAndNotFound(t *testing.T) {
	h := Handler()
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		for _, target := range []string{"/", "/assets/ide.js"} {
			rec := get(t, h, m, target)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d, want 405", m, target, rec.Code)
			}
			if allow := rec.Header().Get("Allow"); allow != "GET, HEAD" {
				t.Errorf("%s %s: Allow = %q", m, target, allow)
			}
		}
	}
	rec := get(t, h, http.MethodHead, "/assets/ide.js")
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD = %d with %d bytes", rec.Code, rec.Body.Len())
	}
	for _, target := range []string{"/nope", "/assets/", "/assets/nope.js", "/assets/../index.html", "/assets/README.md", "/ide.go", "/assets//ide.js", "/graphql"} {
		if rec := get(t, h, http.MethodGet, target); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", target, rec.Code)
		}
	}
}
