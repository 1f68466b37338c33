package tarcp

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// Pack writes the local file or tree src to w as a tar archive whose top
// entry is called name (a relative slash path; the container's tar
// extracts it under its -C directory). Directories come before their
// contents and each has its own entry, so empty ones and modes travel;
// symlinks are stored as symlinks, src itself included, as kubectl does.
// Fifos, sockets and devices are skipped with a line on warn (which may be
// nil). Pack closes the archive (the end-of-archive marker) but not w.
//
// A file that changes size while it is read is an error: the archive would
// otherwise hold a silently wrong copy. ctx is checked between entries;
// a blocked Write is ended by closing w.
func Pack(ctx context.Context, w io.Writer, src, name string, warn io.Writer) error {
	p := &packer{tw: tar.NewWriter(w), warn: warn}
	if err := p.walk(ctx, src, name); err != nil {
		return err
	}
	if err := p.tw.Close(); err != nil {
		return fmt.Errorf("finish archive: %w", err)
	}
	return nil
}

type packer struct {
	tw   *tar.Writer
	warn io.Writer
}

// walk adds src under name, recursing into directories.
func (p *packer) walk(ctx context.Context, src, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	switch {
	case fi.IsDir():
		return p.dir(ctx, src, name, fi)
	case fi.Mode()&fs.ModeSymlink != 0:
		return p.symlink(src, name, fi)
	case fi.Mode().IsRegular():
		return p.file(src, name, fi)
	}
	if p.warn != nil {
		fmt.Fprintf(p.warn, "warning: skipping %s: not a regular file, directory or symlink\n", src)
	}
	return nil
}

func (p *packer) header(fi fs.FileInfo, name, link string) (*tar.Header, error) {
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", name, err)
	}
	hdr.Name = name
	// Whole seconds: without sub-second times the writer needs no PAX
	// record for them, and `tar -m` ignores times anyway.
	hdr.ModTime = hdr.ModTime.Truncate(1e9)
	hdr.AccessTime, hdr.ChangeTime = hdr.AccessTime.Truncate(1e9), hdr.ChangeTime.Truncate(1e9)
	return hdr, nil
}

func (p *packer) dir(ctx context.Context, src, name string, fi fs.FileInfo) error {
	hdr, err := p.header(fi, name+"/", "")
	if err != nil {
		return err
	}
	if err := p.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("pack %s: %w", src, err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	for _, e := range entries {
		if err := p.walk(ctx, filepath.Join(src, e.Name()), path.Join(name, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (p *packer) symlink(src, name string, fi fs.FileInfo) error {
	target, err := os.Readlink(src)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	hdr, err := p.header(fi, name, target)
	if err != nil {
		return err
	}
	if err := p.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("pack %s: %w", src, err)
	}
	return nil
}

func (p *packer) file(src, name string, fi fs.FileInfo) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	defer f.Close()
	hdr, err := p.header(fi, name, "")
	if err != nil {
		return err
	}
	if err := p.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("pack %s: %w", src, err)
	}
	n, err := io.CopyN(p.tw, f, hdr.Size)
	if err != nil && n < hdr.Size {
		if err == io.EOF {
			return fmt.Errorf("pack %s: file shrank from %d to %d bytes while being read", src, hdr.Size, n)
		}
		return fmt.Errorf("pack %s: %w", src, err)
	}
	return nil
}
