// Dumps Go's strToFold (golang.org/x/mod/zip) for every rune whose fold differs from itself.
package main

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

func fold(r rune) rune {
	for {
		r0 := r
		r = unicode.SimpleFold(r0)
		if r <= r0 {
			break
		}
	}
	if 'A' <= r && r <= 'Z' {
		r += 'a' - 'A'
	}
	return r
}

func main() {
	fmt.Printf("# unicode.Version=%s\n", unicode.Version)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		if f := fold(r); f != r {
			fmt.Printf("%04X %04X\n", r, f)
		}
	}
}
