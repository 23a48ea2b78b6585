// Command precompress writes FILE.gz and FILE.br beside FILE (or into -o DIR) and removes
// FILE (keep it with -keep): the build step that makes the WebAssembly client's served copies. See
// package internal/precompress.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/parkway/parkway/internal/precompress"
)

func main() {
	keep := flag.Bool("keep", false, "keep FILE once its compressed copies are written")
	dir := flag.String("o", "", "write the copies into `DIR` (on FILE's file system) instead of beside FILE")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: precompress [-keep] [-o DIR] FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	for _, name := range flag.Args() {
		if err := precompress.Files(name, *dir, *keep); err != nil {
			fmt.Fprintln(os.Stderr, "precompress:", err)
			os.Exit(1)
		}
	}
}
