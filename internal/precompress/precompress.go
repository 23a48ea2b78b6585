// Package precompress writes a build output's compressed copies — gzip and Brotli, at
// their best ratios — so the gateway serves them as they are, chosen by the browser's
// Accept-Encoding, and never compresses on a request. It runs at build time (`go tool
// task wasm`), where a slow, thorough encoder costs seconds once instead of bytes on
// every download.
package precompress

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
	return FilesCached(name, dir, keep, "")
}

// FilesCached is Files with a cache: the copies of bytes it compressed before are taken
// from the directory cache ("" means none) rather than made again. Brotli at its best
// quality takes 7–13 s for the client on two cores, on the path of every build of the
// gateway (`go tool task up`, `go tool task test`), while the client's bytes change far
// less often than the gateway's. Entries are named by the input's SHA-256 and the
// encoders' settings; the newest cacheEntries are kept. The cache only saves time: when
// it cannot be read or written, the copies are made as without it.
func FilesCached(name, dir string, keep bool, cache string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	out := name
	if dir != "" {
		out = filepath.Join(dir, filepath.Base(name))
	}
	tmpDir := filepath.Dir(name)
	key := ""
	if cache != "" {
		sum := sha256.Sum256(data)
		key = filepath.Join(cache, hex.EncodeToString(sum[:])+"-"+settings)
	}
	for _, c := range []struct {
		suffix  string
		encoder func(io.Writer) (io.WriteCloser, error)
	}{
		{GzipSuffix, func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriterLevel(w, gzip.BestCompression) }},
		{BrotliSuffix, func(w io.Writer) (io.WriteCloser, error) {
			// Quality 11 with a 16 MiB window: the whole client fits in it.
			return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24}), nil
		}},
	} {
		if key != "" {
			if cached, err := os.ReadFile(key + c.suffix); err == nil {
				if err := write(tmpDir, out+c.suffix, cached, stored); err != nil {
					return err
				}
				now := time.Now()
				_ = os.Chtimes(key+c.suffix, now, now) // the newest are kept
				continue
			}
		}
		if err := write(tmpDir, out+c.suffix, data, c.encoder); err != nil {
			return err
		}
		if key != "" {
			remember(cache, key+c.suffix, out+c.suffix)
		}
	}
	if keep {
		return nil
	}
	return os.Remove(name)
}

// settings names the encoders' settings in a cache entry's name: a change of them must
// not be served another's copies.
const settings = "gzip9-br11w24"

// cacheEntries is how many copies the cache keeps (two an input): about 17 MB for the
// client.
const cacheEntries = 10

// remember copies the file made into the cache as entry, then drops the oldest entries
// past cacheEntries. Failing is harmless: the next build compresses again.
func remember(cache, entry, made string) {
	data, err := os.ReadFile(made)
	if err != nil || os.MkdirAll(cache, 0o755) != nil {
		return
	}
	if write(cache, entry, data, stored) != nil {
		return
	}
	entries, err := os.ReadDir(cache)
	if err != nil {
		return
	}
	type aged struct {
		name string
		mod  time.Time
	}
	var all []aged
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			all = append(all, aged{e.Name(), info.ModTime()})
		}
	}
	slices.SortFunc(all, func(a, b aged) int { return b.mod.Compare(a.mod) })
	for _, old := range all[min(len(all), cacheEntries):] {
		os.Remove(filepath.Join(cache, old.name))
	}
}

// stored writes its input as it is: a copy that is compressed already.
func stored(w io.Writer) (io.WriteCloser, error) { return nopCloser{w}, nil }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

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
