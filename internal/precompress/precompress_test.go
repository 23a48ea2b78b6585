package precompress

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/andybalholm/brotli"
)

// TestFilesIntoDir checks the build's use: the copies land in another directory, decode to
// the input, and nothing else ever shows up there (no temporary, no raw file).
func TestFilesIntoDir(t *testing.T) {
	build, static := t.TempDir(), t.TempDir()
	raw := bytes.Repeat([]byte("\x00asm parkway "), 5000)
	name := filepath.Join(build, "main.wasm")
	if err := os.WriteFile(name, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Files(name, static, false); err != nil {
		t.Fatalf("Files: %v", err)
	}
	entries, err := os.ReadDir(static)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := []string{"main.wasm.br", "main.wasm.gz"}; !slices.Equal(got, want) {
		t.Errorf("static/ holds %q, want exactly %q", got, want)
	}
	if left, _ := os.ReadDir(build); len(left) != 0 {
		t.Errorf("the build directory still holds %d files (raw input or temporaries), want none", len(left))
	}
	gz, err := os.Open(filepath.Join(static, "main.wasm.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	checkDecodes(t, "gzip", zr, raw)
	br, err := os.Open(filepath.Join(static, "main.wasm.br"))
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	checkDecodes(t, "brotli", brotli.NewReader(br), raw)
}

// TestFilesKeepBeside checks the default: copies beside the input, which -keep leaves.
func TestFilesKeepBeside(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "asset.js")
	if err := os.WriteFile(name, []byte("console.log(1)"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Files(name, "", true); err != nil {
		t.Fatalf("Files: %v", err)
	}
	for _, n := range []string{"asset.js", "asset.js.gz", "asset.js.br"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

func TestFilesMissingInput(t *testing.T) {
	dir := t.TempDir()
	if err := Files(filepath.Join(dir, "absent.wasm"), "", false); !os.IsNotExist(err) {
		t.Errorf("Files of a missing file = %v, want a not-exist error", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a failed Files left %d files behind", len(left))
	}
}

func checkDecodes(t *testing.T, what string, r io.Reader, want []byte) {
	t.Helper()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s copy decodes to %d bytes, want the %d of the input", what, len(got), len(want))
	}
}

// TestFilesCachedTakesEarlierCopies: a second build of the same bytes takes its copies from
// the cache (an entry changed by hand comes out as it is, so it was not compressed again),
// and other bytes are compressed afresh.
func TestFilesCachedTakesEarlierCopies(t *testing.T) {
	cache := t.TempDir()
	build := func(raw []byte) (gz, br []byte) {
		t.Helper()
		dir := t.TempDir()
		name := filepath.Join(dir, "main.wasm")
		if err := os.WriteFile(name, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := FilesCached(name, "", false, cache); err != nil {
			t.Fatalf("FilesCached: %v", err)
		}
		gz, _ = os.ReadFile(name + GzipSuffix)
		br, _ = os.ReadFile(name + BrotliSuffix)
		return gz, br
	}
	raw := bytes.Repeat([]byte("\x00asm parkway "), 5000)
	_, br := build(raw)
	checkDecodes(t, "brotli", brotli.NewReader(bytes.NewReader(br)), raw)
	entries, _ := filepath.Glob(filepath.Join(cache, "*"+BrotliSuffix))
	if len(entries) != 1 {
		t.Fatalf("cache holds %q; want one Brotli entry", entries)
	}
	marked := []byte("from the cache")
	if err := os.WriteFile(entries[0], marked, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, br := build(raw); !bytes.Equal(br, marked) {
		t.Fatalf("the same bytes again: got %d bytes of Brotli, want the cache's entry", len(br))
	}
	other := bytes.Repeat([]byte("\x00asm another "), 5000)
	gz, br := build(other)
	checkDecodes(t, "brotli", brotli.NewReader(bytes.NewReader(br)), other)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	checkDecodes(t, "gzip", zr, other)
}

// TestCacheKeepsTheNewest: past cacheEntries copies the oldest go.
func TestCacheKeepsTheNewest(t *testing.T) {
	cache := t.TempDir()
	for i := range cacheEntries/2 + 3 {
		name := filepath.Join(t.TempDir(), "main.wasm")
		if err := os.WriteFile(name, bytes.Repeat([]byte{byte(i)}, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := FilesCached(name, "", false, cache); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(cache); len(entries) != cacheEntries {
		t.Fatalf("cache holds %d files; want %d", len(entries), cacheEntries)
	}
}
