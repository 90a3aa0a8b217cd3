// Package gzipmembers reads a gzip stream member after member, as gzip -d
// does, and tells bytes after the last member that are not gzip from a
// member cut short: reading on into them, compress/gzip calls both an
// unexpected EOF.
package gzipmembers

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
)

// ErrTrailing is a stream whose end is not gzip: not one cut short (QA).
var ErrTrailing = errors.New("after its gzip data come bytes that are not gzip")

// Reader decompresses the members of the gzip stream in.
type Reader struct {
	zr *gzip.Reader
	in *bufio.Reader
}

// New reads on from zr, a reader of in whose header has been read.
func New(zr *gzip.Reader, in *bufio.Reader) *Reader {
	zr.Multistream(false)
	return &Reader{zr: zr, in: in}
}

func (g *Reader) Read(p []byte) (int, error) {
	for {
		n, err := g.zr.Read(p)
		if err != io.EOF {
			return n, err
		}
		// A member ended: the stream ends, or another member starts, or
		// bytes that are no gzip follow.
		next, perr := g.in.Peek(2)
		switch {
		case len(next) == 0 && perr == io.EOF:
			return n, io.EOF
		case len(next) == 0:
			return n, perr
		case len(next) == 1 && next[0] == 0x1f: // a member cut after its first byte
			return n, io.ErrUnexpectedEOF
		case len(next) < 2 || next[0] != 0x1f || next[1] != 0x8b:
			return n, ErrTrailing
		}
		if err := g.zr.Reset(g.in); errors.Is(err, gzip.ErrHeader) {
			return n, ErrTrailing // its first two bytes only looked like gzip's
		} else if err != nil {
			return n, err
		}
		g.zr.Multistream(false)
		if n > 0 {
			return n, nil
		}
	}
}
