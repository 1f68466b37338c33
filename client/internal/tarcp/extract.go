package tarcp

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrTruncated means the archive ended before its end-of-archive marker:
// the stream was cut, and what was written is a partial copy.
var ErrTruncated = errors.New("tar stream truncated")

// ErrEmpty means the archive held no entries at all.
var ErrEmpty = errors.New("tar archive has no entries")

const blockSize = 512

// Extract reads the tar archive `tar cf - src` writes and recreates src at
// dest, as kubectl cp does: prefix (see Prefix) is stripped from every
// name; a directory's contents land in dest (created if missing); a single
// file is written to dest, or into dest when dest is an existing
// directory or ends with a slash.
//
// Regular files get their permission bits (setuid, setgid and sticky
// dropped; the umask applies), directories too (after their contents, so a
// read-only directory can be filled); ownership and times are not kept.
// An existing file or symlink at an entry's name is replaced; an existing
// directory is not. Symlinks are recreated when checkLinkTarget accepts
// them. Everything else that could reach outside dest ends the extraction
// with an *UnsafeEntryError; whatever was written before stays.
//
// Extract reads r until the end-of-archive marker and no further. A stream
// that ends before it gives an error wrapping ErrTruncated. Extract does
// not take a context: it blocks only in r, which the caller cancels.
func Extract(r io.Reader, dest, prefix string) error {
	x := &extractor{dest: dest, prefix: Prefix(prefix), dirs: map[string]bool{}}
	defer x.close()
	if err := x.run(r); err != nil {
		return err
	}
	return x.finish()
}

// extractor is the state of one Extract call. Entry names inside root are
// cleaned slash paths relative to it; "." is root itself.
type extractor struct {
	dest, prefix string
	root         *os.Root
	// file is the name of the single file inside root when the archive is a
	// file rather than a tree; "" in tree mode.
	file string
	// dirs holds the names known to be real directories (created or
	// checked with Lstat), so each ancestor is checked once.
	dirs map[string]bool
	// chmods are directories created with more permission than their entry
	// asked for, fixed in reverse order once their contents are written.
	chmods  []dirMode
	entries int
}

type dirMode struct {
	name string
	perm fs.FileMode
}

// counter counts the bytes the tar reader consumed, which is how run tells
// an end-of-archive marker from a stream cut at an entry boundary.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (x *extractor) run(r io.Reader) error {
	c := &counter{r: r}
	tr := tar.NewReader(c)
	for {
		// The previous entry's data was read to its end, so at most its
		// padding (< 512 bytes) stands before the next header.
		before := c.n
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// archive/tar reports io.EOF both for the marker and for a stream
			// that ends exactly at an entry boundary; only the marker has a
			// zero block to read.
			if c.n-before < blockSize {
				return fmt.Errorf("after %d entries (%d bytes): %w", x.entries, c.n, ErrTruncated)
			}
			if x.entries == 0 {
				return ErrEmpty
			}
			return nil
		}
		if err != nil {
			return readError(fmt.Sprintf("read tar header after %d entries", x.entries), err)
		}
		x.entries++
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return readError(fmt.Sprintf("read %q", hdr.Name), err)
		}
	}
}

// readError wraps a read failure; an unexpected EOF is a truncated stream,
// and the cause stays visible when it says more than that (a broken
// connection that ended with one).
func readError(what string, err error) error {
	switch {
	case err == io.ErrUnexpectedEOF:
		return fmt.Errorf("%s: %w", what, ErrTruncated)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: %w: %w", what, ErrTruncated, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// entry writes one archive entry.
func (x *extractor) entry(hdr *tar.Header, data io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // PAX global defaults: archive/tar already applied what matters
	}
	clean, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	rel, err := stripPrefix(hdr.Name, clean, x.prefix)
	if err != nil {
		return err
	}
	name, err := x.place(hdr, rel)
	if err != nil {
		return err
	}
	if isSparse(hdr) {
		// A few bytes of sparse map can describe terabytes of holes, which
		// archive/tar would hand over as zeros to write.
		return unsafeEntry(hdr.Name, "sparse file")
	}
	perm := fs.FileMode(hdr.Mode) & fs.ModePerm
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(hdr.Name, name, perm)
	case tar.TypeReg, '\x00', tar.TypeCont:
		return x.writeFile(hdr.Name, name, perm, data)
	case tar.TypeSymlink:
		return x.symlink(hdr.Name, name, hdr.Linkname)
	case tar.TypeLink:
		return x.hardlink(hdr.Name, name, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return unsafeEntry(hdr.Name, "device file")
	case tar.TypeFifo:
		return unsafeEntry(hdr.Name, "fifo")
	}
	return unsafeEntry(hdr.Name, "unsupported entry type %q", hdr.Typeflag)
}

// place opens the root on the first entry and maps rel to a name inside it.
func (x *extractor) place(hdr *tar.Header, rel string) (string, error) {
	if x.root == nil {
		if err := x.open(hdr, rel); err != nil {
			return "", err
		}
	}
	if x.file != "" {
		if rel != "" {
			return "", unsafeEntry(hdr.Name, "entry below the copied file %q", x.prefix)
		}
		return x.file, nil
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return "", unsafeEntry(hdr.Name, "the copied directory is replaced by a non-directory")
		}
		return ".", nil
	}
	return rel, nil
}

// open decides from the first entry whether the archive is a tree or a
// single file, and opens the root accordingly: dest itself for a tree or
// for a file copied into an existing directory, dest's parent otherwise.
func (x *extractor) open(hdr *tar.Header, rel string) error {
	dir := x.dest
	if rel == "" && hdr.Typeflag != tar.TypeDir {
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			return unsafeEntry(hdr.Name, "the copied path is a symlink (to %q); copy its target instead", hdr.Linkname)
		case tar.TypeLink:
			return unsafeEntry(hdr.Name, "the copied path is a hard link")
		}
		// A trailing slash says dest is meant as a directory, as in cp.
		if fi, err := os.Stat(x.dest); (err == nil && fi.IsDir()) || strings.HasSuffix(x.dest, string(filepath.Separator)) {
			if x.prefix == "" {
				return unsafeEntry(hdr.Name, "a file without a name")
			}
			x.file = path.Base(x.prefix)
		} else {
			dir, x.file = filepath.Dir(x.dest), filepath.Base(x.dest)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create destination: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open destination: %w", err)
	}
	x.root = root
	x.dirs["."] = true
	return nil
}

func (x *extractor) close() {
	if x.root != nil {
		x.root.Close()
	}
}

// finish applies the deferred directory modes, innermost first.
func (x *extractor) finish() error {
	for i := len(x.chmods) - 1; i >= 0; i-- {
		d := x.chmods[i]
		if err := x.root.Chmod(d.name, d.perm); err != nil {
			return fmt.Errorf("set mode of %s: %w", d.name, err)
		}
	}
	return nil
}

// parents makes sure every ancestor of name is a real directory, creating
// missing ones. A symlink on the way is refused: following it is how an
// archive writes through a link it planted (os.Root would still stop one
// that leaves the root, but not one that lands somewhere unexpected inside).
func (x *extractor) parents(raw, name string) error {
	for _, a := range ancestors(name) {
		if x.dirs[a] {
			continue
		}
		fi, err := x.root.Lstat(a)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := x.root.Mkdir(a, 0o755); err != nil {
				return fmt.Errorf("create directory %s: %w", a, err)
			}
		case err != nil:
			return fmt.Errorf("check %s: %w", a, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return unsafeEntry(raw, "path goes through the symlink %q", a)
		case !fi.IsDir():
			return fmt.Errorf("extract %s: %s is not a directory", raw, a)
		}
		x.dirs[a] = true
	}
	return nil
}

// clear removes what stands at name so a new entry can take its place;
// directories stay, and only a new directory may take their place.
func (x *extractor) clear(raw, name string, dir bool) (exists bool, err error) {
	fi, err := x.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("check %s: %w", name, err)
	case fi.IsDir() && dir:
		return true, nil
	case fi.IsDir():
		return false, fmt.Errorf("extract %s: would replace the directory %s", raw, name)
	}
	if err := x.root.Remove(name); err != nil {
		return false, fmt.Errorf("replace %s: %w", name, err)
	}
	return false, nil
}

func (x *extractor) mkdir(raw, name string, perm fs.FileMode) error {
	if name == "." {
		return nil // the destination: made by open, its mode is the user's
	}
	if err := x.parents(raw, name); err != nil {
		return err
	}
	exists, err := x.clear(raw, name, true)
	if err != nil {
		return err
	}
	x.dirs[name] = true
	if exists {
		return nil
	}
	if err := x.root.Mkdir(name, perm|0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", name, err)
	}
	if perm&0o700 != 0o700 {
		x.chmods = append(x.chmods, dirMode{name, perm})
	}
	return nil
}

// writeFile writes the entry's data under a temporary name beside name and
// renames it into place once complete, so a stream cut mid-file leaves the
// previous file (or nothing) under name, never a prefix of the new one.
func (x *extractor) writeFile(raw, name string, perm fs.FileMode, data io.Reader) error {
	if err := x.parents(raw, name); err != nil {
		return err
	}
	if fi, err := x.root.Lstat(name); err == nil && fi.IsDir() {
		return fmt.Errorf("extract %s: would replace the directory %s", raw, name)
	}
	tmp := path.Join(path.Dir(name), partialPrefix+path.Base(name))
	if err := x.root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", tmp, err)
	}
	// O_EXCL: whatever stood at tmp is gone, so nothing is followed.
	f, err := x.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	_, err = io.Copy(f, data)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		// rename(2) replaces a file or symlink at name without following it.
		err = x.root.Rename(tmp, name)
	}
	if err != nil {
		x.root.Remove(tmp)
		return readError(fmt.Sprintf("write %s", name), err)
	}
	return nil
}

// partialPrefix names a file while its data is still arriving.
const partialPrefix = ".porthole-partial."

func (x *extractor) symlink(raw, name, target string) error {
	if err := checkLinkTarget(raw, name, target); err != nil {
		return err
	}
	if err := x.parents(raw, name); err != nil {
		return err
	}
	if _, err := x.clear(raw, name, false); err != nil {
		return err
	}
	if err := x.root.Symlink(target, name); err != nil {
		return fmt.Errorf("create symlink %s: %w", name, err)
	}
	return nil
}

// hardlink links name to an earlier entry of the archive. The target is an
// archive name like any other, so it gets the same checks, and it must be a
// regular file already written inside the root.
func (x *extractor) hardlink(raw, name, linkname string) error {
	clean, err := cleanName(linkname)
	if err != nil {
		return unsafeEntry(raw, "hard link to %q: %v", linkname, err.(*UnsafeEntryError).Reason)
	}
	target, err := stripPrefix(raw, clean, x.prefix)
	if err != nil || target == "" {
		return unsafeEntry(raw, "hard link to %q outside the copied tree", linkname)
	}
	if err := x.parents(raw, target); err != nil {
		return err
	}
	fi, err := x.root.Lstat(target)
	if err != nil {
		return unsafeEntry(raw, "hard link to %q, which is not in the archive before it", linkname)
	}
	if !fi.Mode().IsRegular() {
		return unsafeEntry(raw, "hard link to %q, which is not a regular file", linkname)
	}
	if err := x.parents(raw, name); err != nil {
		return err
	}
	if _, err := x.clear(raw, name, false); err != nil {
		return err
	}
	if err := x.root.Link(target, name); err != nil {
		return fmt.Errorf("create hard link %s: %w", name, err)
	}
	return nil
}

// isSparse reports a GNU sparse entry, old style or PAX (GNU.sparse.*).
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}
