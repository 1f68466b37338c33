// Package tarcp copies files between this machine and a container the way
// kubectl cp does (PROTOCOL.md section 12.3): as a tar stream over exec,
// because the container needs nothing but tar (and sh and tail for
// --retries).
//
// It owns the three pieces that do not depend on the wire:
//
//   - Pack writes a local file or tree as a tar archive (symlinks as
//     symlinks, modes, empty files and directories), the stdin of the
//     container's `tar -xmf -`.
//   - Extract reads the output of the container's `tar cf -` into a local
//     directory and refuses, with an *UnsafeEntryError, every entry that
//     could put anything outside it: absolute names, ".." components,
//     symlinks leaving the destination, entries through a symlink, hard
//     links from outside, devices and fifos. Writes go through os.Root, so
//     even a check missed here cannot escape. kubectl skips such entries
//     with a warning; a container that sends them is hostile or broken,
//     so porthole stops the copy instead. A stream that ends without the
//     end-of-archive marker is ErrTruncated, never a silent partial copy.
//   - Upload and Download drive the exec calls through an ExecFunc: the
//     `test -d` probe, the remote tar command, and the resumable download
//     (`tar cf - 'path' | tail -c+N`) behind --retries.
//
// The exec transport (WebSocket v5 with its half-close, or SPDY) belongs to
// package client, which binds its Exec to an ExecFunc.
package tarcp
