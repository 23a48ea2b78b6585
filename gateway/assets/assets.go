package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
)

// Names of the files the handler treats specially.
const (
	IndexPage  = "index.html"
	WidgetPage = "widget.html"
	WASM       = "main.wasm"
	wasmGzip   = "main.wasm.gz"
	wasmBrotli = "main.wasm.br"
)

// ErrNotBuilt says the WebAssembly client is missing from the embedded files.
var ErrNotBuilt = errors.New("the WebAssembly client is not built: run `go tool task wasm` (or `go tool task build`), then rebuild parkway")

// Options tunes a Handler. The zero value serves every page with frame-ancestors 'self'
// (each response's Content-Security-Policy: PagePolicy, NonPagePolicy).
type Options struct {
	// EmbedOrigins may frame widget.html (issue 6): they are added to its CSP
	// frame-ancestors. Every other page can only be framed by the gateway's own origin.
	EmbedOrigins []string
}

// Handler serves the embedded files. It is immutable after New and safe for concurrent use.
type Handler struct {
	files map[string]*file // by name, without the leading slash
	wasm  *wasmFile        // nil when the client is not built
	opts  Options
	// pageCSP is each page's Content-Security-Policy: PagePolicy and who may frame it.
	pageCSP map[string]string
	// hashed are the pages' scripts and stylesheet at their content-hashed names
	// (pageAssets), served cached for good, like main.<hash>.wasm.
	hashed map[string]*file
}

// pageAssets are what the pages load besides main.wasm on every visit: each is also
// served at a content-hashed name (style.<hash>.css), which the pages name, so a repeat
// visit takes them from the browser's cache without asking the gateway (issue 12). At
// the plain name they are revalidated as before (embedding pages and old tabs). The
// icon is one too: Chromium asked for it again on every repeat visit.
var pageAssets = []string{"style.css", "wasm_exec.js", "boot.js", "favicon.svg"}

// wasmFile is main.wasm, held compressed (gzip always, Brotli when the build made it);
// identity is made on first need. It is served at /main.wasm (revalidated on every
// load) and at its content-hashed name (cached for good): the pages name the latter.
type wasmFile struct {
	gz       *file
	br       *file // nil when the build has no main.wasm.br
	rawSize  int64
	hashed   string // "main.<hash>.wasm"
	once     sync.Once
	identity *file
	err      error
}

// New indexes every regular file in fsys (Go sources and dotfiles excepted: package static
// embeds its own embed.go). It fails only when a compressed client is present but corrupt,
// because serving that would fail in every browser in a way that is hard to see.
func New(fsys fs.FS, opts Options) (*Handler, error) {
	for _, o := range opts.EmbedOrigins {
		// An origin goes into a header verbatim: nothing that could end the directive.
		if o == "" || strings.ContainsAny(o, " \t\r\n;,'\"") {
			return nil, fmt.Errorf("assets: embed origin %q is not a plain origin", o)
		}
	}
	h := &Handler{files: map[string]*file{}, opts: Options{EmbedOrigins: append([]string(nil), opts.EmbedOrigins...)}}
	h.pageCSP = map[string]string{
		IndexPage:  PagePolicy + "; " + frameAncestors(nil),
		WidgetPage: PagePolicy + "; " + frameAncestors(h.opts.EmbedOrigins),
	}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := path.Base(name)
		if d.IsDir() {
			if name != "." && strings.HasPrefix(base, ".") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(base, ".") || strings.HasSuffix(base, ".go") || !d.Type().IsRegular() {
			return nil
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		h.files[name] = newFile(name, data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	if err := h.deriveWidget(); err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	if gz, ok := h.files[wasmGzip]; ok {
		size, err := gunzipSize(gz.data)
		if err != nil {
			return nil, fmt.Errorf("assets: %s: %w", wasmGzip, err)
		}
		h.wasm = &wasmFile{gz: &file{name: WASM, data: gz.data, contentType: "application/wasm", etag: gz.etag}, rawSize: size}
		if br, ok := h.files[wasmBrotli]; ok {
			// Built together, or the browsers that take Brotli run another client.
			if n, err := unbrotliSize(br.data); err != nil || n != size {
				return nil, fmt.Errorf("assets: %s is not %s's twin (%d bytes inflated, %v; want %d): rebuild with `go tool task wasm`", wasmBrotli, wasmGzip, n, err, size)
			}
			h.wasm.br = &file{name: WASM, data: br.data, contentType: "application/wasm", etag: strings.TrimSuffix(gz.etag, `"`) + `-br"`}
		}
		delete(h.files, wasmGzip)
		delete(h.files, wasmBrotli)
		delete(h.files, WASM) // a raw copy beside the .gz is never served: one truth
	} else if raw, ok := h.files[WASM]; ok {
		// Built without the .gz (a plain `go build` of the client): compress it here,
		// once, so browsers still download a fifth of it.
		gz, err := gzipBytes(raw.data)
		if err != nil {
			return nil, fmt.Errorf("assets: compress %s: %w", WASM, err)
		}
		h.wasm = &wasmFile{gz: &file{name: WASM, data: gz, contentType: "application/wasm", etag: etagOf(gz, "")}, rawSize: int64(len(raw.data))}
		h.wasm.once.Do(func() {
			h.wasm.identity = &file{name: WASM, data: raw.data, contentType: "application/wasm", etag: strings.TrimSuffix(h.wasm.gz.etag, `"`) + `-identity"`}
		})
		delete(h.files, WASM)
	}
	if h.wasm != nil {
		h.wasm.hashed = hashedName(h.wasm.gz.data)
		for _, page := range []string{IndexPage, WidgetPage} {
			if f, ok := h.files[page]; ok {
				h.files[page] = newFile(page, nameHashedWASM(f.data, h.wasm.hashed))
			}
		}
	}
	h.hashed = map[string]*file{}
	for _, name := range pageAssets {
		f, ok := h.files[name]
		if !ok {
			continue
		}
		hashed := hashedAssetName(name, f.data)
		h.hashed[hashed] = f
		for _, page := range []string{IndexPage, WidgetPage} {
			if p, ok := h.files[page]; ok {
				h.files[page] = newFile(page, nameHashedAsset(p.data, name, hashed))
			}
		}
	}
	return h, nil
}

// hashedAssetName is name with its content's hash before the extension:
// style.css → style.<hash>.css.
func hashedAssetName(name string, data []byte) string {
	sum := sha256.Sum256(data)
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:8]) + ext
}

// nameHashedAsset points a page's src="name" and href="name" at hashed.
func nameHashedAsset(page []byte, name, hashed string) []byte {
	for _, attr := range []string{`src="`, `href="`} {
		page = bytes.ReplaceAll(page, []byte(attr+name+`"`), []byte(attr+hashed+`"`))
	}
	return page
}

// hashedName is main.wasm's name with its content in it: a new build is a new URL, so
// the old one can be cached for good and a repeat visit neither downloads it nor asks.
func hashedName(gz []byte) string {
	sum := sha256.Sum256(gz)
	return "main." + hex.EncodeToString(sum[:8]) + ".wasm"
}

// nameHashedWASM points a page's references to main.wasm (the parkway-client meta that
// boot.js reads, or a link) at its hashed name.
func nameHashedWASM(page []byte, hashed string) []byte {
	for _, attr := range []string{`content="`, `href="`} {
		page = bytes.ReplaceAll(page, []byte(attr+WASM+`"`), []byte(attr+hashed+`"`))
	}
	return page
}

// CompactClass is the class on the <html> element of the widget page: the index page's
// markup in its compact layout (the stylesheet's compact section; boot.js, which has
// widget.js sign the widget in first).
const CompactClass = "compact"

// deriveWidget makes widget.html from index.html when the files have no widget page of
// their own: the same bytes with class="compact" on the <html> element. One markup
// serves both, and /widget.html stays a real path, with the CSP that lets the embed
// allowlist frame it.
func (h *Handler) deriveWidget() error {
	if _, ok := h.files[WidgetPage]; ok {
		return nil
	}
	index, ok := h.files[IndexPage]
	if !ok {
		return nil
	}
	page, err := compactPage(index.data)
	if err != nil {
		return fmt.Errorf("%s for %s: %w", IndexPage, WidgetPage, err)
	}
	h.files[WidgetPage] = newFile(WidgetPage, page)
	return nil
}

// compactPage puts class="compact" on the <html> start tag of page, which must have one
// without a class of its own.
func compactPage(page []byte) ([]byte, error) {
	const tag = "<html"
	start := bytes.Index(page, []byte(tag))
	if start < 0 {
		return nil, errors.New("no <html> element to mark compact")
	}
	at := start + len(tag)
	end := bytes.IndexByte(page[at:], '>')
	if end < 0 || !strings.ContainsRune("> \t\r\n", rune(page[at])) {
		return nil, errors.New("no <html> start tag to mark compact")
	}
	if bytes.Contains(page[at:at+end], []byte("class=")) {
		return nil, errors.New("the <html> element has a class already")
	}
	out := make([]byte, 0, len(page)+len(CompactClass)+9)
	out = append(out, page[:at]...)
	out = append(out, ` class="`+CompactClass+`"`...)
	return append(out, page[at:]...), nil
}

func gzipBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// unbrotliSize checks that data is a complete Brotli stream and returns the size it
// inflates to.
func unbrotliSize(data []byte) (int64, error) {
	return io.Copy(io.Discard, brotli.NewReader(bytes.NewReader(data)))
}

// gunzipSize checks that data is a complete gzip stream and returns the size it inflates
// to (the number the closing note reports as "main.wasm raw").
func gunzipSize(data []byte) (int64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		return 0, err
	}
	return n, zr.Close()
}

// Built reports whether the WebAssembly client is present: nil, or ErrNotBuilt.
func (h *Handler) Built() error {
	if h.wasm == nil {
		return ErrNotBuilt
	}
	return nil
}

// WASMSizes returns main.wasm's size raw and as served gzip and Brotli compressed (0 for
// a copy the build did not make, or when the client is missing).
func (h *Handler) WASMSizes() (raw, gzipped, brotli int64) {
	if h.wasm == nil {
		return 0, 0, 0
	}
	if h.wasm.gz != nil {
		gzipped = int64(len(h.wasm.gz.data))
	}
	if h.wasm.br != nil {
		brotli = int64(len(h.wasm.br.data))
	}
	return h.wasm.rawSize, gzipped, brotli
}

// WASMPath is the content-hashed path the pages load main.wasm from ("" when missing).
func (h *Handler) WASMPath() string {
	if h.wasm == nil {
		return ""
	}
	return "/" + h.wasm.hashed
}

// Has reports whether name (without a leading slash) is served.
func (h *Handler) Has(name string) bool {
	_, ok := h.files[name]
	_, hashed := h.hashed[name]
	return ok || hashed || (h.wasm != nil && (name == WASM || name == h.wasm.hashed))
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Secure by default: nothing here but the two pages is meant to be a document, so
	// whatever else is opened as one (a file, a 404, the not-built page) may load and run
	// nothing. The pages get their own policy below.
	w.Header().Set("Content-Security-Policy", NonPagePolicy)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = IndexPage // "/" and "/?user=alice"
	}
	if name == WASM || (h.wasm != nil && name == h.wasm.hashed) {
		h.serveWASM(w, r, name != WASM)
		return
	}
	if f, ok := h.hashed[name]; ok {
		serveCached(w, r, f, immutable)
		return
	}
	f, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if (name == IndexPage || name == WidgetPage) && h.wasm == nil {
		notBuilt(w, true)
		return
	}
	if csp, ok := h.pageCSP[name]; ok {
		w.Header().Set("Content-Security-Policy", csp)
	}
	serve(w, r, f)
}

// serveWASM answers main.wasm in the smallest coding the browser takes: Brotli, gzip,
// or none. At its hashed name it may be cached for good (immutable: a reload does not
// even revalidate it); at /main.wasm it is revalidated like every other file.
func (h *Handler) serveWASM(w http.ResponseWriter, r *http.Request, hashed bool) {
	if h.wasm == nil {
		notBuilt(w, false)
		return
	}
	// The representation depends on Accept-Encoding: caches must key on it.
	w.Header().Add("Vary", "Accept-Encoding")
	cache := "no-cache"
	if hashed {
		cache = immutable
	}
	ae := r.Header.Get("Accept-Encoding")
	for _, enc := range []struct {
		coding string
		f      *file
	}{{"br", h.wasm.br}, {"gzip", h.wasm.gz}} {
		if enc.f == nil || !accepts(ae, enc.coding) {
			continue
		}
		w.Header().Set("Content-Encoding", enc.coding)
		if r.Header.Get("Range") == "" {
			// ServeContent leaves out Content-Length for encoded bodies (it cannot know
			// a range's length); for the whole body we do, and a browser can show progress.
			w.Header().Set("Content-Length", strconv.Itoa(len(enc.f.data)))
		}
		serveCached(w, r, enc.f, cache)
		return
	}
	f, err := h.wasm.inflated()
	if err != nil {
		http.Error(w, "main.wasm: "+err.Error(), http.StatusInternalServerError)
		return
	}
	serveCached(w, r, f, cache)
}

// inflated is main.wasm decompressed, made once on first need: most browsers accept gzip,
// so most gateways never hold the raw bytes.
func (wf *wasmFile) inflated() (*file, error) {
	wf.once.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(wf.gz.data))
		if err != nil {
			wf.err = err
			return
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			wf.err = err
			return
		}
		// A different representation needs a different strong ETag (RFC 9110 §8.8.3).
		wf.identity = &file{name: WASM, data: raw, contentType: "application/wasm", etag: strings.TrimSuffix(wf.gz.etag, `"`) + `-identity"`}
	})
	return wf.identity, wf.err
}

// immutable is the Cache-Control of a file served at a name made of its content.
const immutable = "public, max-age=31536000, immutable"

// serve writes f with its validator. http.ServeContent answers If-None-Match with 304,
// HEAD without a body and Range requests, so none of that is reimplemented here.
//
// Every file but the hashed main.wasm is "no-cache", which means "revalidate every
// time", not "do not store": a reload costs a 304 of a few hundred bytes and a new build
// is seen at once. The client itself, megabytes, is named by its content instead.
func serve(w http.ResponseWriter, r *http.Request, f *file) { serveCached(w, r, f, "no-cache") }

func serveCached(w http.ResponseWriter, r *http.Request, f *file, cacheControl string) {
	hd := w.Header()
	hd.Set("Content-Type", f.contentType)
	hd.Set("ETag", f.etag)
	hd.Set("Cache-Control", cacheControl)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.data))
}

// notBuilt answers 503 with the command that fixes it, as a page for browsers and as
// text for the WebAssembly fetch.
func notBuilt(w http.ResponseWriter, page bool) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", "30")
	if !page {
		http.Error(w, ErrNotBuilt.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, notBuiltPage)
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parkway — client not built</title></head>
<body><main><h1>The softphone is not built</h1>
<p>This gateway was compiled without the WebAssembly client (<code>main.wasm.gz</code>).
Run <code>go tool task wasm</code> (or <code>go tool task up</code>), then restart parkway.</p>
</main></body></html>
`

// PagePolicy is the Content-Security-Policy of the pages (index.html, widget.html)
// before their frame-ancestors: each may load only what the softphone does, from the
// gateway itself, and run no script but its files. Each source is there for one thing:
//
//   - default-src 'none': whatever is not named below is refused — fonts, media URLs,
//     frames, objects, workers, a manifest. The pages use none: the ring is WebAudio
//     oscillators and the call's audio a MediaStream (srcObject), which are not fetches.
//   - script-src 'self' 'wasm-unsafe-eval': wasm_exec.js, boot.js and widget.js, never
//     inline script, an event-handler attribute or eval; 'wasm-unsafe-eval' lets boot.js
//     compile main.wasm (WebAssembly.compileStreaming) and allows nothing else.
//   - style-src 'self': style.css. No <style> element or style= attribute: the client
//     writes text, classes and data-/aria- attributes, never a style.
//   - img-src 'self': favicon.svg (the icons in the markup are inline <svg>, not fetched).
//   - connect-src 'self': the fetch of main.wasm, POST /api/session and
//     /api/widget/session, and the websocket /ws, which both boot.js and the client open
//     on the page's own host: CSP 3's 'self' matches ws: and wss: of it.
//   - base-uri 'none': no injected <base> can re-point the pages' relative URLs.
//   - form-action 'none': the forms are never submitted; the client takes their submit
//     event (Enter in Number calls) and cancels it. Before it runs, Enter does nothing
//     rather than navigating, and no injected form can post anywhere.
//
// frame-ancestors is appended per page: 'self', plus the embed allowlist for widget.html.
const PagePolicy = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'"

// NonPagePolicy is the Content-Security-Policy of every other response: scripts,
// stylesheets, main.wasm, the icon, JSON, errors. A browser applies no CSP to a file it
// loads as a subresource, so this costs nothing; it is there for when one is opened as
// a document (navigated to, or a response a bug lets be sniffed as HTML), where it may
// load and run nothing, and only the gateway's own pages may frame it.
const NonPagePolicy = "default-src 'none'; " + selfAncestors

const selfAncestors = "frame-ancestors 'self'"

// frameAncestors is the CSP for a page that origins may frame, besides the gateway itself.
func frameAncestors(origins []string) string {
	csp := selfAncestors
	for _, o := range origins {
		csp += " " + o
	}
	return csp
}
