// Writes Go-made zip fixtures for goward's tests.
//
//	prefix.zip: dirhash hash_test.go TestHashZip's archive (archive/zip Writer.Create).
//	simple.zip: x/mod zip.Create of zip/testdata/create/simple.txt as example.com/m@v1.0.0.
package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

type memFile struct {
	name string
	data []byte
}

func (f memFile) Path() string                 { return f.name }
func (f memFile) Lstat() (os.FileInfo, error)  { return memInfo{f}, nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type memInfo struct{ f memFile }

func (i memInfo) Name() string       { return i.f.name }
func (i memInfo) Size() int64        { return int64(len(i.f.data)) }
func (i memInfo) Mode() os.FileMode  { return 0644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	out := os.Args[1]
	// prefix.zip
	f, err := os.Create(out + "/prefix.zip")
	must(err)
	z := zip.NewWriter(f)
	w, err := z.Create("prefix/xyz")
	must(err)
	w.Write([]byte("data for xyz"))
	w, err = z.Create("prefix/abc")
	must(err)
	w.Write([]byte("data for abc"))
	must(z.Close())
	must(f.Close())
	h, err := dirhash.HashZip(out+"/prefix.zip", dirhash.Hash1)
	must(err)
	fmt.Println("prefix.zip", h)

	// simple.zip
	files := []modzip.File{
		memFile{"go.mod", []byte("module example.com/m\n\ngo 1.13\n")},
		memFile{"m.go", []byte("package m\n\nfunc Foo() int { return 42 }\n")},
		memFile{"cmd/hello/hello.go", []byte("package main\n\nimport (\n  \"fmt\"\n  \"example.com/m\"\n)\n\nfunc main() {\n  fmt.Println(m.Foo())\n}\n")},
	}
	f, err = os.Create(out + "/simple.zip")
	must(err)
	must(modzip.Create(f, module.Version{Path: "example.com/m", Version: "v1.0.0"}, files))
	must(f.Close())
	h, err = dirhash.HashZip(out+"/simple.zip", dirhash.Hash1)
	must(err)
	fmt.Println("simple.zip", h)
}
