package assets

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"
)

var wasmRaw = bytes.Repeat([]byte("\x00asm\x01\x00\x00\x00 parkway "), 4096)

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testFS(t testing.TB) fstest.MapFS {
	return fstest.MapFS{
		"index.html":   {Data: []byte("<!doctype html><title>Parkway</title>")},
		"widget.html":  {Data: []byte("<!doctype html><title>widget</title>")},
		"app.css":      {Data: []byte("body{}")},
		"wasm_exec.js": {Data: []byte("'use strict';")},
		"main.wasm.gz": {Data: gz(t, wasmRaw)},
		"main.wasm":    {Data: wasmRaw},
		"embed.go":     {Data: []byte("package static")},
		".hidden":      {Data: []byte("x")},
	}
}

// get serves one request through a real HTTP server on loopback, so headers go through
// net/http's writer exactly as a browser sees them.
func get(t *testing.T, h http.Handler, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// A bare Transport so Go does not add Accept-Encoding and decompress behind our back.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func newHandler(t *testing.T, fsys fstest.MapFS, opts Options) *Handler {
	t.Helper()
	h, err := New(fsys, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestContentTypes(t *testing.T) {
	h := newHandler(t, testFS(t), Options{})
	for path, want := range map[string]string{
		"/":                  "text/html; charset=utf-8",
		"/?user=alice":       "text/html; charset=utf-8",
		"/index.html":        "text/html; charset=utf-8",
		"/widget.html":       "text/html; charset=utf-8",
		"/app.css":           "text/css; charset=utf-8",
		"/wasm_exec.js":      "text/javascript; charset=utf-8",
		"/main.wasm":         "application/wasm",
		"/../../index.html":  "text/html; charset=utf-8",
		"/static/../app.css": "text/css; charset=utf-8",
	} {
		resp, _ := get(t, h, path, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != want {
			t.Errorf("%s: %d %q, want 200 %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), want)
		}
		if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("ETag") == "" {
			t.Errorf("%s: cache headers %q %q", path, resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
		}
	}
	for _, path := range []string{"/embed.go", "/.hidden", "/main.wasm.gz", "/nope.js"} {
		if resp, _ := get(t, h, path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
}

func TestWASMGzipAndIdentity(t *testing.T) {
	h := newHandler(t, testFS(t), Options{})
	resp, body := get(t, h, "/main.wasm", map[string]string{"Accept-Encoding": "gzip, deflate, br"})
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip: encoding %q vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, wasmRaw) {
		t.Error("gzip body does not inflate to main.wasm")
	}
	gzTag := resp.Header.Get("ETag")

	for _, ae := range []string{"", "identity", "gzip;q=0, *", "br"} {
		resp, body = get(t, h, "/main.wasm", map[string]string{"Accept-Encoding": ae})
		if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, wasmRaw) {
			t.Errorf("Accept-Encoding %q: encoding %q, %d bytes", ae, resp.Header.Get("Content-Encoding"), len(body))
		}
		if resp.Header.Get("ETag") == gzTag {
			t.Errorf("Accept-Encoding %q: identity shares the gzip ETag", ae)
		}
	}
	raw, zipped, brotli := h.WASMSizes()
	if raw != int64(len(wasmRaw)) || zipped == 0 || zipped >= raw || brotli != 0 {
		t.Errorf("sizes raw %d gzip %d brotli %d (no .br built)", raw, zipped, brotli)
	}
}

func TestETagRevalidation(t *testing.T) {
	h := newHandler(t, testFS(t), Options{})
	for _, path := range []string{"/", "/app.css", "/main.wasm"} {
		hdr := map[string]string{"Accept-Encoding": "gzip"}
		resp, _ := get(t, h, path, hdr)
		hdr["If-None-Match"] = resp.Header.Get("ETag")
		resp, body := get(t, h, path, hdr)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("%s revalidated: %d with %d bytes, want 304", path, resp.StatusCode, len(body))
		}
		hdr["If-None-Match"] = `"something-else"`
		if resp, _ = get(t, h, path, hdr); resp.StatusCode != 200 {
			t.Errorf("%s with a stale tag: %d", path, resp.StatusCode)
		}
	}
	// A new build changes the tag.
	fs2 := testFS(t)
	fs2["app.css"] = &fstest.MapFile{Data: []byte("body{color:red}")}
	h2 := newHandler(t, fs2, Options{})
	a, _ := get(t, h, "/app.css", nil)
	b, _ := get(t, h2, "/app.css", nil)
	if a.Header.Get("ETag") == b.Header.Get("ETag") {
		t.Error("changed content kept its ETag")
	}
}

func TestNotBuilt(t *testing.T) {
	fsys := testFS(t)
	delete(fsys, "main.wasm.gz")
	delete(fsys, "main.wasm")
	h := newHandler(t, fsys, Options{})
	if h.Built() == nil {
		t.Fatal("Built() = nil without main.wasm")
	}
	for _, path := range []string{"/", "/main.wasm", "/widget.html"} {
		resp, body := get(t, h, path, nil)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "go tool task wasm") {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	if resp, _ := get(t, h, "/app.css", nil); resp.StatusCode != 200 {
		t.Errorf("css without wasm: %d", resp.StatusCode)
	}
}

func TestCorruptWASMIsRefused(t *testing.T) {
	fsys := testFS(t)
	fsys["main.wasm.gz"] = &fstest.MapFile{Data: gz(t, wasmRaw)[:100]}
	if _, err := New(fsys, Options{}); err == nil {
		t.Error("a truncated main.wasm.gz was accepted")
	}
}

func TestWidgetFrameAncestors(t *testing.T) {
	h := newHandler(t, testFS(t), Options{EmbedOrigins: []string{"http://127.0.0.2:9000"}})
	resp, _ := get(t, h, "/widget.html", nil)
	if got := resp.Header.Get("Content-Security-Policy"); got != PagePolicy+"; frame-ancestors 'self' http://127.0.0.2:9000" {
		t.Errorf("widget CSP %q", got)
	}
	if _, err := New(testFS(t), Options{EmbedOrigins: []string{"http://a; script-src *"}}); err == nil {
		t.Error("an origin that injects a directive was accepted")
	}
}

// One markup: without a widget.html of its own, the widget page is the index page with
// class="compact" on <html>, served at /widget.html with the widget's CSP.
func TestWidgetIsTheIndexPageInItsCompactLayout(t *testing.T) {
	fsys := testFS(t)
	delete(fsys, "widget.html")
	index := "<!doctype html>\n<html lang=\"en\">\n<head><title>Parkway</title></head><body></body></html>\n"
	fsys["index.html"] = &fstest.MapFile{Data: []byte(index)}
	h := newHandler(t, fsys, Options{EmbedOrigins: []string{"http://127.0.0.2:9000"}})

	resp, body := get(t, h, "/widget.html", nil)
	want := strings.Replace(index, `<html lang="en">`, `<html class="compact" lang="en">`, 1)
	if resp.StatusCode != http.StatusOK || string(body) != want {
		t.Fatalf("/widget.html: %d %q, want %q", resp.StatusCode, body, want)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != PagePolicy+"; frame-ancestors 'self' http://127.0.0.2:9000" {
		t.Errorf("widget CSP %q", got)
	}
	if resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || resp.Header.Get("ETag") == "" {
		t.Errorf("widget headers %v", resp.Header)
	}
	resp, body = get(t, h, "/", nil)
	if string(body) != index || resp.Header.Get("Content-Security-Policy") != PagePolicy+"; frame-ancestors 'self'" {
		t.Errorf("/: %q, CSP %q; want the page unchanged, not the widget's frame-ancestors", body, resp.Header.Get("Content-Security-Policy"))
	}
	if e1, e2 := resp.Header.Get("ETag"), h.files[WidgetPage].etag; e1 == e2 {
		t.Errorf("the two pages share the ETag %s", e1)
	}
}

func TestCompactPageNeedsAnHTMLStartTag(t *testing.T) {
	for _, page := range []string{
		"<!doctype html><title>no html element</title>",
		"<!doctype html><htmlish>",
		"<!doctype html><html",
		`<!doctype html><html class="dark">`,
	} {
		fsys := testFS(t)
		delete(fsys, "widget.html")
		fsys["index.html"] = &fstest.MapFile{Data: []byte(page)}
		if _, err := New(fsys, Options{}); err == nil {
			t.Errorf("%q: a widget page was made from it", page)
		}
	}
	for page, want := range map[string]string{
		"<html>":                             `<html class="compact">`,
		"<!doctype html>\n<html\n  lang=en>": "<!doctype html>\n<html class=\"compact\"\n  lang=en>",
	} {
		got, err := compactPage([]byte(page))
		if err != nil || string(got) != want {
			t.Errorf("%q: %q, %v; want %q", page, got, err, want)
		}
	}
}

func TestMethods(t *testing.T) {
	h := newHandler(t, testFS(t), Options{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Security-Policy") != NonPagePolicy {
		t.Errorf("POST /: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/main.wasm", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err = http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength <= 0 {
		t.Errorf("HEAD /main.wasm: %d length %d", resp.StatusCode, resp.ContentLength)
	}
}

func TestAccepts(t *testing.T) {
	for in, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip;q=0.5": true, "gzip;q=0": false,
		"*": true, "*;q=0": false, "br, *": true, "gzip;q=0, *": false, "x-gzip": true, "identity": false,
	} {
		if got := accepts(in, "gzip"); got != want {
			t.Errorf("accepts(%q, gzip) = %v", in, got)
		}
	}
	for in, want := range map[string]bool{
		"": false, "br": true, "gzip, deflate, br, zstd": true, "br;q=0, gzip": false, "x-br": false,
		"*": true, "gzip;q=1, *;q=0.1": true, "brotli": false,
	} {
		if got := accepts(in, "br"); got != want {
			t.Errorf("accepts(%q, br) = %v", in, got)
		}
	}
}

func br(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := brotli.NewWriterLevel(&buf, brotli.BestCompression)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A build with main.wasm.br serves it to browsers that take Brotli (every current one),
// gzip to the rest, and the raw bytes to clients that take neither.
func TestWASMBrotliPreferred(t *testing.T) {
	fsys := testFS(t)
	fsys["main.wasm.br"] = &fstest.MapFile{Data: br(t, wasmRaw)}
	h := newHandler(t, fsys, Options{})
	tags := map[string]string{}
	for ae, want := range map[string]string{
		"gzip, deflate, br, zstd": "br", "br": "br", "br;q=0, gzip": "gzip", "gzip": "gzip", "identity": "",
	} {
		resp, body := get(t, h, "/main.wasm", map[string]string{"Accept-Encoding": ae})
		if got := resp.Header.Get("Content-Encoding"); got != want {
			t.Errorf("Accept-Encoding %q: encoding %q, want %q", ae, got, want)
			continue
		}
		var r io.Reader = bytes.NewReader(body)
		switch want {
		case "br":
			r = brotli.NewReader(r)
		case "gzip":
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, wasmRaw) {
			t.Errorf("Accept-Encoding %q: body does not decode to main.wasm (%v)", ae, err)
		}
		if resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("Accept-Encoding %q: Content-Length %q for %d bytes", ae, resp.Header.Get("Content-Length"), len(body))
		}
		tags[want] = resp.Header.Get("ETag")
	}
	if tags["br"] == tags["gzip"] || tags["br"] == tags[""] {
		t.Errorf("representations share an ETag: %v", tags)
	}
	if raw, zipped, brotli := h.WASMSizes(); raw != int64(len(wasmRaw)) || brotli == 0 || zipped == 0 {
		t.Errorf("sizes raw %d gzip %d brotli %d", raw, zipped, brotli)
	}
}

// A .br from another build than the .gz would give Brotli browsers another client:
// the gateway refuses to start with it rather than serve two programs under one name.
func TestBrotliOfAnotherBuildIsRefused(t *testing.T) {
	fsys := testFS(t)
	fsys["main.wasm.br"] = &fstest.MapFile{Data: br(t, wasmRaw[:len(wasmRaw)-1])}
	if _, err := New(fsys, Options{}); err == nil || !strings.Contains(err.Error(), "main.wasm.br") {
		t.Fatalf("New with a mismatched main.wasm.br: %v", err)
	}
	fsys["main.wasm.br"] = &fstest.MapFile{Data: []byte("not brotli")}
	if _, err := New(fsys, Options{}); err == nil {
		t.Fatal("New with a corrupt main.wasm.br succeeded")
	}
}

// The pages load the client from a name that changes with its content, which may be
// cached for good: a repeat visit neither downloads it again nor asks whether it changed.
func TestHashedWASMName(t *testing.T) {
	page := `<!doctype html><html><head><meta name="parkway-client" content="main.wasm"></head></html>`
	build := func(wasm []byte) *Handler {
		fsys := testFS(t)
		fsys["index.html"] = &fstest.MapFile{Data: []byte(page)}
		delete(fsys, "widget.html")
		fsys["main.wasm.gz"] = &fstest.MapFile{Data: gz(t, wasm)}
		delete(fsys, "main.wasm")
		return newHandler(t, fsys, Options{})
	}
	h := build(wasmRaw)
	hashed := h.WASMPath()
	if !strings.HasPrefix(hashed, "/main.") || !strings.HasSuffix(hashed, ".wasm") || hashed == "/main.wasm" {
		t.Fatalf("WASMPath %q", hashed)
	}
	for _, p := range []string{"/", "/widget.html"} {
		_, body := get(t, h, p, nil)
		if !strings.Contains(string(body), `content="`+strings.TrimPrefix(hashed, "/")+`"`) {
			t.Errorf("%s does not name %s: %s", p, hashed, body)
		}
	}
	resp, body := get(t, h, hashed, map[string]string{"Accept-Encoding": "gzip"})
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("Content-Type") != "application/wasm" {
		t.Errorf("%s: %d, Cache-Control %q, type %q", hashed, resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
	}
	_, plain := get(t, h, "/main.wasm", map[string]string{"Accept-Encoding": "gzip"})
	if !bytes.Equal(body, plain) {
		t.Error("the hashed and the plain name serve different bytes")
	}
	if resp, _ := get(t, h, "/main.wasm", nil); resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("/main.wasm: Cache-Control %q, want no-cache", resp.Header.Get("Cache-Control"))
	}
	if next := build(append(bytes.Clone(wasmRaw), 1)).WASMPath(); next == hashed {
		t.Errorf("a different client kept the name %s", hashed)
	}
	if resp, _ := get(t, h, "/main.0000000000000000.wasm", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a stale hashed name: %d, want 404", resp.StatusCode)
	}
}

func TestRawWASMIsCompressedAtStart(t *testing.T) {
	fsys := testFS(t)
	delete(fsys, "main.wasm.gz")
	h := newHandler(t, fsys, Options{})
	resp, body := get(t, h, "/main.wasm", map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" || len(body) >= len(wasmRaw) {
		t.Fatalf("encoding %q, %d bytes", resp.Header.Get("Content-Encoding"), len(body))
	}
	resp, body = get(t, h, "/main.wasm", nil)
	if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, wasmRaw) {
		t.Errorf("identity: encoding %q, %d bytes", resp.Header.Get("Content-Encoding"), len(body))
	}
}

// The pages name their scripts and stylesheet by content too, so a repeat visit asks the
// gateway for nothing but the page (issue 12); the plain names still answer, revalidated.
func TestHashedPageAssets(t *testing.T) {
	page := `<!doctype html><html><head><link rel="icon" href="favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="style.css"><script src="wasm_exec.js" defer></script><script src="boot.js" defer></script><script src="other.js"></script></head></html>`
	fsys := testFS(t)
	fsys["index.html"] = &fstest.MapFile{Data: []byte(page)}
	delete(fsys, "widget.html")
	fsys["style.css"] = &fstest.MapFile{Data: []byte("body{color:red}")}
	fsys["boot.js"] = &fstest.MapFile{Data: []byte("'boot';")}
	fsys["other.js"] = &fstest.MapFile{Data: []byte("'other';")}
	fsys["favicon.svg"] = &fstest.MapFile{Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)}
	h := newHandler(t, fsys, Options{})
	for _, p := range []string{"/", "/widget.html"} {
		_, body := get(t, h, p, nil)
		for _, name := range []string{"style.css", "wasm_exec.js", "boot.js", "favicon.svg"} {
			hashed := hashedAssetName(name, fsys[name].Data)
			if !strings.Contains(string(body), `="`+hashed+`"`) || strings.Contains(string(body), `="`+name+`"`) {
				t.Errorf("%s does not name %s as %s: %s", p, name, hashed, body)
			}
			resp, got := get(t, h, "/"+hashed, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != immutable || !bytes.Equal(got, fsys[name].Data) {
				t.Errorf("/%s: %d, Cache-Control %q, %q", hashed, resp.StatusCode, resp.Header.Get("Cache-Control"), got)
			}
			if ct, want := resp.Header.Get("Content-Type"), mustGet(t, h, "/"+name).Header.Get("Content-Type"); ct != want {
				t.Errorf("/%s: Content-Type %q, the plain name's is %q", hashed, ct, want)
			}
			if resp := mustGet(t, h, "/"+name); resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("/%s: Cache-Control %q, want no-cache", name, resp.Header.Get("Cache-Control"))
			}
			if !h.Has(hashed) {
				t.Errorf("Has(%q) = false", hashed)
			}
		}
		if _, body := get(t, h, p, nil); !strings.Contains(string(body), `src="other.js"`) {
			t.Errorf("%s: a script that is not one of the page's own assets was renamed: %s", p, body)
		}
	}
	if a, b := hashedAssetName("boot.js", []byte("a")), hashedAssetName("boot.js", []byte("b")); a == b || !strings.HasPrefix(a, "boot.") || !strings.HasSuffix(a, ".js") {
		t.Errorf("hashed names %q and %q", a, b)
	}
}

func mustGet(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	resp, _ := get(t, h, path, nil)
	return resp
}
