// Command precompress writes FILE.gz and FILE.br beside FILE (or into -o DIR) and removes
// FILE (keep it with -keep): the build step that makes the WebAssembly client's served copies. See
// package internal/precompress. Copies of bytes it compressed before come from a cache in the
// user's cache directory (-cache), as Go's build cache serves a compile.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parkway/parkway/internal/precompress"
)

func main() {
	keep := flag.Bool("keep", false, "keep FILE once its compressed copies are written")
	dir := flag.String("o", "", "write the copies into `DIR` (on FILE's file system) instead of beside FILE")
	cache := flag.String("cache", defaultCache(), "take the copies of a FILE compressed before from `DIR`, and keep new ones there (\"\": no cache)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: precompress [-keep] [-o DIR] [-cache DIR] FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	for _, name := range flag.Args() {
		if err := precompress.FilesCached(name, *dir, *keep, *cache); err != nil {
			fmt.Fprintln(os.Stderr, "precompress:", err)
			os.Exit(1)
		}
	}
}

// defaultCache is parkway/precompress in the user's cache directory (~/.cache on Linux),
// or none when there is no such directory.
func defaultCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "parkway", "precompress")
}
