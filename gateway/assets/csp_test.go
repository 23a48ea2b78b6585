package assets

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/parkway/parkway/static"
)

// Every response carries exactly one Content-Security-Policy: the pages theirs, with
// who may frame each; everything else, the not-built page and the errors included, the
// one that lets a document load and run nothing (TestMethods: a refused method's too).
func TestContentSecurityPolicy(t *testing.T) {
	const embedder = "http://127.0.0.2:9000"
	index := PagePolicy + "; frame-ancestors 'self'"
	widget := PagePolicy + "; frame-ancestors 'self' " + embedder

	fsys := testFS(t)
	fsys["style.css"] = fsys["app.css"] // served at a hashed name too
	h := newHandler(t, fsys, Options{EmbedOrigins: []string{embedder}})
	hashedCSS := hashedAssetName("style.css", fsys["style.css"].Data)
	for path, want := range map[string]string{
		"/":             index,
		"/?user=alice":  index,
		"/index.html":   index,
		"/widget.html":  widget,
		"/style.css":    NonPagePolicy,
		"/" + hashedCSS: NonPagePolicy,
		"/wasm_exec.js": NonPagePolicy,
		"/main.wasm":    NonPagePolicy,
		h.WASMPath():    NonPagePolicy,
		"/missing.html": NonPagePolicy,
	} {
		resp, _ := get(t, h, path, nil)
		if got := resp.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != want {
			t.Errorf("%s (%d): CSP %q, want %q", path, resp.StatusCode, got, want)
		}
		// A revalidated page is still that page: its 304 says the same.
		if etag := resp.Header.Get("ETag"); etag != "" {
			resp, _ := get(t, h, path, map[string]string{"If-None-Match": etag})
			if got := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != http.StatusNotModified || got != want {
				t.Errorf("%s revalidated: %d, CSP %q, want 304 and %q", path, resp.StatusCode, got, want)
			}
		}
	}

	// The page that says the client is not built loads nothing: it gets the strict one.
	delete(fsys, "main.wasm.gz")
	delete(fsys, "main.wasm")
	h = newHandler(t, fsys, Options{EmbedOrigins: []string{embedder}})
	for _, path := range []string{"/", "/widget.html", "/main.wasm"} {
		resp, _ := get(t, h, path, nil)
		if got := resp.Header.Values("Content-Security-Policy"); resp.StatusCode != http.StatusServiceUnavailable || len(got) != 1 || got[0] != NonPagePolicy {
			t.Errorf("%s not built: %d, CSP %q", path, resp.StatusCode, got)
		}
	}
}

// The page policy allows no way around it: no inline script or style, no eval but
// WebAssembly's, nothing from another origin, and a fallback that refuses.
func TestPagePolicyIsStrict(t *testing.T) {
	directives := map[string][]string{}
	for _, d := range strings.Split(PagePolicy, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			t.Fatalf("an empty directive in %q", PagePolicy)
		}
		if _, dup := directives[f[0]]; dup {
			t.Errorf("%s twice: a browser obeys only the first", f[0])
		}
		directives[f[0]] = f[1:]
		for _, src := range f[1:] {
			if src != "'none'" && src != "'self'" && src != "'wasm-unsafe-eval'" {
				t.Errorf("%s allows %s", f[0], src)
			}
		}
	}
	for name, want := range map[string]string{
		"default-src": "'none'",
		"script-src":  "'self' 'wasm-unsafe-eval'",
		"base-uri":    "'none'",
		"form-action": "'none'",
	} {
		if got := strings.Join(directives[name], " "); got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	if _, ok := directives["frame-ancestors"]; ok {
		t.Error("PagePolicy has frame-ancestors: each page adds its own")
	}
}

// The real pages fit the policy: everything they name is on the gateway, no script or
// style is inline, no form posts anywhere, and the scripts neither eval nor write
// markup or style attributes. The Playwright specs then watch a real call for
// violations (support.ts, watchCSP); this says which line broke it.
func TestPagesFitTheirPolicy(t *testing.T) {
	page, err := fs.ReadFile(static.FS, IndexPage)
	if err != nil {
		t.Fatal(err)
	}
	z := html.NewTokenizer(bytes.NewReader(page))
	inScript := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		tok := z.Token()
		switch tt {
		case html.TextToken:
			if inScript && strings.TrimSpace(tok.Data) != "" {
				t.Errorf("inline script %q: script-src 'self' refuses it", tok.Data)
			}
		case html.EndTagToken:
			inScript = false
		case html.StartTagToken, html.SelfClosingTagToken:
			switch tok.Data {
			case "style", "base", "iframe", "object", "embed", "frame":
				t.Errorf("<%s>: the page policy refuses it", tok.Data)
			case "script":
				inScript = tt == html.StartTagToken
			}
			for _, a := range tok.Attr {
				switch {
				case a.Key == "style":
					t.Errorf("<%s style=%q>: style-src 'self' refuses it", tok.Data, a.Val)
				case strings.HasPrefix(a.Key, "on"):
					t.Errorf("<%s %s>: script-src 'self' refuses event-handler attributes", tok.Data, a.Key)
				case a.Key == "action" || a.Key == "formaction":
					t.Errorf("<%s %s=%q>: form-action 'none' refuses it", tok.Data, a.Key, a.Val)
				case (a.Key == "src" || a.Key == "href") && !sameOriginRef(a.Val):
					t.Errorf("<%s %s=%q>: not on the gateway", tok.Data, a.Key, a.Val)
				case tok.Data == "link" && a.Key == "rel" && a.Val != "icon" && a.Val != "stylesheet":
					t.Errorf("<link rel=%q>: the policy has a source only for icon and stylesheet", a.Val)
				}
			}
		}
	}
	if err := z.Err(); err != io.EOF {
		t.Fatal(err)
	}

	css, err := fs.ReadFile(static.FS, "style.css")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`url\(|@import|@font-face`).Find(css); m != nil {
		t.Errorf("style.css uses %s: the policy has no source for what it would load", m)
	}
	// What the scripts must not do: run strings as code, or write markup or a style
	// attribute, which could bring inline script or style the policy refuses.
	banned := regexp.MustCompile(`\beval\(|new Function\(|\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|setAttribute\(\s*['"]style['"]|\.cssText\b`)
	for _, name := range []string{"boot.js", "widget.js"} {
		js, err := fs.ReadFile(static.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(js), "\n") {
			if code, _, _ := strings.Cut(line, "//"); banned.MatchString(code) {
				t.Errorf("%s:%d: %s", name, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// sameOriginRef reports whether ref, a URL in the page, names a file of the gateway: a
// relative path, not another scheme, host or a data: URL.
func sameOriginRef(ref string) bool {
	return ref != "" && !strings.Contains(ref, ":") && !strings.HasPrefix(ref, "//")
}
