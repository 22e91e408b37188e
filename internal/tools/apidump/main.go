// Command apidump prints the exported API of the module's public packages
// (every package outside internal/, cmd/, test/, bench/ and examples/),
// one declaration a line, sorted: the baseline behind the API check.
//
//	go run ./internal/tools/apidump            # print the API
//	go run ./internal/tools/apidump -update api/v0.2.0.txt
//
// -update writes into the file every line of the current API that no other
// api/*.txt file has, so the file named is the one being added to (the
// next release's) and the files of tagged releases stay as they were.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	root := flag.String("root", ".", "the module's root directory")
	update := flag.String("update", "", "write the lines no other api/*.txt file has to this file")
	flag.Parse()
	lines, err := Dump(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "apidump:", err)
		os.Exit(1)
	}
	if *update == "" {
		fmt.Print(strings.Join(lines, "\n") + "\n")
		return
	}
	others, err := readBaseline(filepath.Dir(*update), filepath.Base(*update))
	if err != nil {
		fmt.Fprintln(os.Stderr, "apidump:", err)
		os.Exit(1)
	}
	var out []string
	for _, l := range lines {
		if !others[l] {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		// Nothing new since the releases the other files record: no file.
		if err := os.Remove(*update); err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintln(os.Stderr, "apidump:", err)
			os.Exit(1)
		}
		return
	}
	if err := os.WriteFile(*update, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "apidump:", err)
		os.Exit(1)
	}
}
