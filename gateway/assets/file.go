package assets

import (
	"crypto/sha256"
	"encoding/base64"
	"mime"
	"path"
	"strings"
)

// file is one embedded asset, ready to serve: its bytes, its type and its validator.
type file struct {
	name        string
	data        []byte
	contentType string
	etag        string
}

func newFile(name string, data []byte) *file {
	return &file{name: name, data: data, contentType: contentType(name), etag: etagOf(data, "")}
}

// etagOf is a strong validator from the content: equal bytes, equal tag, across builds
// and processes, so a gateway restart does not invalidate every browser's cache.
func etagOf(data []byte, suffix string) string {
	sum := sha256.Sum256(data)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + suffix + `"`
}

// types are written out for what the softphone serves, because mime.TypeByExtension
// reads the host's mime.types and a minimal container may map .wasm to nothing —
// and browsers refuse to stream-compile WebAssembly without application/wasm.
var types = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".wasm":  "application/wasm",
	".json":  "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".txt":   "text/plain; charset=utf-8",
	".wav":   "audio/wav",
	".mp3":   "audio/mpeg",
	".ogg":   "audio/ogg",
	".woff2": "font/woff2",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := types[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
