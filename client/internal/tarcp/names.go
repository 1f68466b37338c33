package tarcp

import (
	"fmt"
	"path"
	"strings"
)

// UnsafeEntryError is an archive entry Extract refuses to write because it
// could reach outside the destination, or is not a kind of file a copy
// should create. Extract stops at the first one.
type UnsafeEntryError struct {
	// Name is the entry's name as the archive gave it.
	Name   string
	Reason string
}

func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("refusing tar entry %q: %s", e.Name, e.Reason)
}

func unsafeEntry(name, format string, args ...any) error {
	return &UnsafeEntryError{Name: name, Reason: fmt.Sprintf(format, args...)}
}

// cleanName checks an archive name and returns it without "." components,
// empty components and trailing slashes. Absolute names and ".." components
// are refused outright, even where cleaning would keep them inside: a tar
// that writes them is not one this package asked for (GNU and busybox tar
// strip leading "/" and "../" when they create an archive).
func cleanName(name string) (string, error) {
	if name == "" {
		return "", unsafeEntry(name, "empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", unsafeEntry(name, "absolute path")
	}
	if strings.ContainsRune(name, 0) {
		return "", unsafeEntry(name, "NUL in name")
	}
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
		case "..":
			return "", unsafeEntry(name, `".." component`)
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/"), nil
}

// Prefix returns the archive prefix `tar cf - src` gives its entries: the
// cleaned path without leading "/" and "../", which tar strips when it
// creates the archive. "" means the whole archive is the copied tree.
func Prefix(src string) string {
	p := path.Clean(src)
	for {
		switch {
		case strings.HasPrefix(p, "/"):
			p = p[1:]
		case strings.HasPrefix(p, "../"):
			p = p[3:]
		case p == "." || p == "..":
			return ""
		default:
			return p
		}
	}
}

// stripPrefix maps a cleaned archive name to the path relative to the
// copied tree: "" for the tree (or file) itself. A name outside the prefix
// was not asked for and is refused (kubectl: "tar contents corrupted").
func stripPrefix(raw, name, prefix string) (string, error) {
	switch {
	case prefix == "":
		return name, nil
	case name == prefix:
		return "", nil
	case strings.HasPrefix(name, prefix+"/"):
		return name[len(prefix)+1:], nil
	}
	return "", unsafeEntry(raw, "outside the requested path %q", prefix)
}

// checkLinkTarget accepts a symlink target only if it is relative, its ".."
// components all come first, and there are no more of them than the link's
// directory is deep below the destination. Such a link resolves inside the
// destination whatever the names after the ".." turn out to be, because
// Extract never lets a symlink stand where a directory on an entry's path
// should be, and every other symlink obeys the same rule. A ".." after a
// name is refused even when it cancels out lexically: the name may be a
// symlink (now or later in the archive) and the ".." would then climb from
// wherever it points.
func checkLinkTarget(raw, name, target string) error {
	if target == "" {
		return unsafeEntry(raw, "symlink with an empty target")
	}
	if strings.HasPrefix(target, "/") {
		return unsafeEntry(raw, "symlink to absolute path %q", target)
	}
	if strings.ContainsRune(target, 0) {
		return unsafeEntry(raw, "NUL in symlink target")
	}
	up, named := 0, false
	for _, p := range strings.Split(target, "/") {
		switch p {
		case "", ".":
		case "..":
			if named {
				return unsafeEntry(raw, "symlink target %q climbs after a name", target)
			}
			up++
		default:
			named = true
		}
	}
	if up > depth(path.Dir(name)) {
		return unsafeEntry(raw, "symlink to %q points outside the destination", target)
	}
	return nil
}

// depth is the number of components of a cleaned relative directory; "."
// is the destination itself, depth 0.
func depth(dir string) int {
	if dir == "." || dir == "" {
		return 0
	}
	return strings.Count(dir, "/") + 1
}

// ancestors returns the proper ancestors of a cleaned relative name,
// outermost first: "a/b/c" gives "a", "a/b".
func ancestors(name string) []string {
	var out []string
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			out = append(out, name[:i])
		}
	}
	return out
}
