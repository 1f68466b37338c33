package client

import (
	"context"
	"errors"
	"io"

	"github.com/porthole/porthole/client/internal/tarcp"
)

// Direction says which way Copy moves files.
type Direction int

const (
	// ToContainer copies CopyOptions.Local into the container at Remote.
	ToContainer Direction = iota + 1
	// FromContainer copies Remote out of the container to Local.
	FromContainer
)

// CopyOptions describe one kubectl-cp style copy. The container needs tar
// (and sh and tail when Retries is not 0).
type CopyOptions struct {
	Namespace, Pod, Container string
	Direction                 Direction
	// Local is the path on this machine; Remote the path in the container.
	//
	// ToContainer: when Remote is an existing directory, Local is copied
	// into it under its own name; otherwise Local becomes Remote.
	// FromContainer: a directory's contents land in Local (created if
	// missing); a file becomes Local, or goes into it when Local is an
	// existing directory or ends with a slash.
	Local, Remote string
	// NoPreserve makes the container's tar ignore the archive's owners and
	// permissions (ToContainer only).
	NoPreserve bool
	// Retries resumes a download whose stream broke, where it broke:
	// 0 never, negative without limit (FromContainer only).
	Retries int
	// Stdout and Stderr receive the remote tar's messages and the retry
	// notices where kubectl prints them: a download's remote stderr and
	// notices go to Stdout, an upload's remote stderr to Stderr. Nil
	// discards.
	Stdout, Stderr io.Writer
	// Progress, when set, is called with the running total of archive bytes
	// sent or received, from the goroutine moving them.
	Progress func(total int64)
	// Wire overrides Config.Wire for the copy's sessions.
	Wire Wire
}

// UnsafeEntryError is an entry of a downloaded archive that Copy refused
// because it could write outside Local (an absolute or ".." name, a
// symlink leaving Local or on the path of a later entry, a hard link from
// outside) or is a device, fifo or sparse file. The copy stops there;
// nothing is ever written outside Local.
type UnsafeEntryError = tarcp.UnsafeEntryError

// ErrTruncated means a downloaded archive ended before its end marker (and
// Retries did not recover it): what was written is incomplete.
var ErrTruncated = tarcp.ErrTruncated

// Copy copies files to or from a container by running tar in it over Exec,
// as kubectl cp does (PROTOCOL.md section 12.3): an upload streams an
// archive into `tar -xmf -` and half-closes its stdin; a download reads
// `tar cf -` and extracts it without ever writing outside Local. It
// returns when the copy is complete: nil, the remote tar's *ExitError, an
// *UnsafeEntryError, an error wrapping ErrTruncated, or Exec's errors.
func (c *Client) Copy(ctx context.Context, opts *CopyOptions) error {
	exec := func(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
		return c.Exec(ctx, &ExecOptions{
			Namespace: opts.Namespace, Pod: opts.Pod, Container: opts.Container, Command: cmd,
			StreamOptions: StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr, Wire: opts.Wire},
		})
	}
	switch opts.Direction {
	case ToContainer:
		return tarcp.Upload(ctx, exec, &tarcp.UploadOptions{
			Src: opts.Local, Dest: opts.Remote, NoPreserve: opts.NoPreserve,
			Stdout: opts.Stdout, Stderr: opts.Stderr, Progress: opts.Progress,
		})
	case FromContainer:
		return tarcp.Download(ctx, exec, &tarcp.DownloadOptions{
			Src: opts.Remote, Dest: opts.Local, Retries: opts.Retries,
			Stdout: opts.Stdout, Progress: opts.Progress,
		})
	}
	return errors.New("copy: Direction must be ToContainer or FromContainer")
}
