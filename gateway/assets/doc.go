// Package assets serves the softphone's embedded web files (package static): the pages,
// CSS, wasm_exec.js and the WebAssembly client, with the Content-Type, compression and
// cache headers a browser needs to pick up a new build at once and nothing else.
//
// main.wasm is embedded gzip-compressed (main.wasm.gz, built by `go tool task wasm`) and
// served as /main.wasm: as is, with Content-Encoding: gzip, to clients that accept gzip,
// and decompressed once, lazily, for the rare client that does not. A client built
// without the .gz (main.wasm alone) is compressed once at start-up instead. Every response carries
// an ETag derived from the content and Cache-Control: no-cache, so a browser revalidates on
// each load (a 304 costs one round trip) and a rebuilt binary never serves a stale client.
// The pages themselves name main.wasm, their stylesheet and their two scripts
// (wasm_exec.js, boot.js) by content instead — main.<hash>.wasm, style.<hash>.css — and
// those names are cached for good (immutable), so a repeat visit asks the gateway for the
// page alone (issue 12).
//
// The softphone has one markup: widget.html, the page an embedding site frames, is
// index.html with class="compact" on its <html> element, made here once (a widget.html
// among the files is served as it is instead). It keeps its own path, so its CSP can let
// the embed allowlist frame it while every other page only allows the gateway itself.
//
// Every response carries a Content-Security-Policy: the pages PagePolicy (only the
// gateway's own scripts, style and icon, 'wasm-unsafe-eval' for main.wasm, fetches and
// the websocket to the gateway alone) with their frame-ancestors, everything else
// NonPagePolicy, under which a response opened as a document loads and runs nothing.
//
// When the WebAssembly client has not been built, the pages that need it answer 503 with
// the command that builds it, instead of a page that cannot start.
package assets
