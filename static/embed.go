// Package static holds the softphone's web assets — index.html (served as widget.html
// too, in its compact layout: see gateway/assets), embed.js, widget.js, style.css,
// wasm_exec.js and the compressed main.wasm built by `go tool task wasm` — embedded into
// the parkway binary so the gateway serves them with no files on disk.
package static

import "embed"

// FS is every file in this directory. main.wasm.gz and wasm_exec.js are build outputs
// (see Taskfile.yml); when they are missing the gateway says so instead of serving a
// page that cannot start.
//
//go:embed *
var FS embed.FS
