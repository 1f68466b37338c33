package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// RecordingSource is where the player's recordings are kept: a directory
// on this server (DirSource) or a bucket shared by every replica. The
// player parses each recording's header itself and authorizes on it, so a
// source only lists and opens. Implementations are safe for concurrent
// use.
type RecordingSource interface {
	// List returns every recording's name (ID.cast) and size.
	List(ctx context.Context) ([]RecordingInfo, error)
	// Open returns recording name to read and seek (for ranges) and its
	// size; a missing one is an error wrapping fs.ErrNotExist.
	Open(ctx context.Context, name string) (io.ReadSeekCloser, int64, error)
}

// RecordingInfo is one listed recording.
type RecordingInfo struct {
	Name string
	Size int64
}

// DirSource serves the regular files of dir; nothing outside dir is ever
// opened (symbolic links out of it are refused).
func DirSource(dir string) RecordingSource { return dirSource(dir) }

type dirSource string

func (d dirSource) List(context.Context) ([]RecordingInfo, error) {
	root, err := os.OpenRoot(string(d))
	if err != nil {
		return nil, fmt.Errorf("open recordings directory: %w", err)
	}
	defer root.Close()
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	var out []RecordingInfo
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, RecordingInfo{Name: e.Name(), Size: fi.Size()})
	}
	return out, nil
}

func (d dirSource) Open(_ context.Context, name string) (io.ReadSeekCloser, int64, error) {
	root, err := os.OpenRoot(string(d))
	if err != nil {
		return nil, 0, fmt.Errorf("open recordings directory: %w", err)
	}
	defer root.Close() // the open file stays usable
	f, err := root.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file: %w", name, fs.ErrNotExist)
	}
	return f, fi.Size(), nil
}

var errNoSource = errors.New("no recordings source")
