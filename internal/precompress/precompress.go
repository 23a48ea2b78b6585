// Package precompress writes a build output's compressed copies — gzip and Brotli, at
// their best ratios — so the gateway serves them as they are, chosen by the browser's
// Accept-Encoding, and never compresses on a request. It runs at build time (`go tool
// task wasm`), where a slow, thorough encoder costs seconds once instead of bytes on
// every download.
package precompress

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

// Suffixes of the copies Files writes beside the input.
const (
	GzipSuffix   = ".gz"
	BrotliSuffix = ".br"
)

// Files writes name.gz and name.br from name into dir (beside name when dir is empty) and,
// when keep is false, removes name: only the compressed copies are embedded, so a raw one
// left behind would be dead weight.
//
// Each copy is written to a temporary file beside name and renamed into dir, so dir only
// ever sees whole copies appear: the build links main.wasm outside static/ because a
// `//go:embed *` there, listed by a go vet running beside the build, would otherwise see a
// temporary file or the raw main.wasm vanish between listing and reading. dir must be on
// name's file system.
func Files(name, dir string, keep bool) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	out := name
	if dir != "" {
		out = filepath.Join(dir, filepath.Base(name))
	}
	if err := write(filepath.Dir(name), out+GzipSuffix, data, func(w io.Writer) (io.WriteCloser, error) {
		return gzip.NewWriterLevel(w, gzip.BestCompression)
	}); err != nil {
		return err
	}
	if err := write(filepath.Dir(name), out+BrotliSuffix, data, func(w io.Writer) (io.WriteCloser, error) {
		// Quality 11 with a 16 MiB window: the whole client fits in it.
		return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24}), nil
	}); err != nil {
		return err
	}
	if keep {
		return nil
	}
	return os.Remove(name)
}

// write compresses data into a temporary file in tmpDir and renames it over out, so a
// failed or interrupted build never leaves a truncated copy to be embedded.
func write(tmpDir, out string, data []byte, encoder func(io.Writer) (io.WriteCloser, error)) (err error) {
	tmp, err := os.CreateTemp(tmpDir, ".precompress-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	buf := bufio.NewWriterSize(tmp, 1<<20)
	enc, err := encoder(buf)
	if err != nil {
		return err
	}
	if _, err := enc.Write(data); err != nil {
		return fmt.Errorf("compress %s: %w", out, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", out, err)
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
