// Prints the real Go implementation's view of module zips, for goward's differential tests
// (tests/it/zipdiff.rs).
//
//	zipview MODULE VERSION ZIP...
//
// For each ZIP, one JSON line: x/mod zip.CheckZip's verdict, dirhash.HashZip's h1, every entry
// of archive/zip's File list with the SHA-256 of what File.Open yields (the bytes HashZip
// hashes), and x/mod zip.Unzip's verdict with the regular files it wrote. Names are hex so that
// bytes that are not UTF-8 survive.
package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

type file struct {
	Name   string `json:"name"` // hex of the name bytes
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Err    string `json:"err,omitempty"`
}

type view struct {
	Zip       string `json:"zip"`
	Check     string `json:"check"` // "ok" or the error
	H1        string `json:"h1"`
	H1Err     string `json:"h1_err"`
	OpenErr   string `json:"open_err"`
	Files     []file `json:"files"`
	Unzip     string `json:"unzip"` // "ok" or the error
	Extracted []file `json:"extracted"`
}

func verdict(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func digest(r io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

func look(m module.Version, path string) view {
	v := view{Zip: path}
	_, err := modzip.CheckZip(m, path)
	v.Check = verdict(err)
	if h1, err := dirhash.HashZip(path, dirhash.Hash1); err != nil {
		v.H1Err = err.Error()
	} else {
		v.H1 = h1
	}
	if r, err := zip.OpenReader(path); err != nil {
		v.OpenErr = err.Error()
	} else {
		v.Files = []file{}
		for _, f := range r.File {
			e := file{Name: hex.EncodeToString([]byte(f.Name))}
			rc, err := f.Open()
			if err == nil {
				e.Size, e.SHA256, err = digest(rc)
				rc.Close()
			}
			if err != nil {
				e.Err = err.Error()
			}
			v.Files = append(v.Files, e)
		}
		r.Close()
	}
	dir, err := os.MkdirTemp("", "zipview-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "x")
	v.Unzip = verdict(modzip.Unzip(out, m, path))
	v.Extracted = []file{}
	if v.Unzip == "ok" {
		filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(out, p)
			e := file{Name: hex.EncodeToString([]byte(filepath.ToSlash(rel)))}
			f, err := os.Open(p)
			if err == nil {
				e.Size, e.SHA256, err = digest(f)
				f.Close()
			}
			if err != nil {
				e.Err = err.Error()
			}
			v.Extracted = append(v.Extracted, e)
			return nil
		})
		sort.Slice(v.Extracted, func(i, j int) bool { return v.Extracted[i].Name < v.Extracted[j].Name })
	}
	return v
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: zipview MODULE VERSION ZIP...")
		os.Exit(2)
	}
	m := module.Version{Path: os.Args[1], Version: os.Args[2]}
	enc := json.NewEncoder(os.Stdout)
	for _, path := range os.Args[3:] {
		if err := enc.Encode(look(m, path)); err != nil {
			panic(err)
		}
	}
}
