package localrt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/porthole/porthole/kube"
)

// defaultPath is the PATH of a process when porthole's own has none; it is
// what container runtimes set for images without one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// processEnv is the environment of a process in container c: a minimal
// host environment, HOSTNAME, TERM for a tty, then the container's env
// (later entries win, as os/exec keeps the last duplicate).
func (c *container) processEnv(tty bool) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	env := []string{"PATH=" + path}
	for _, k := range []string{"HOME", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, "HOSTNAME="+c.pod.spec.Name)
	if tty {
		env = append(env, "TERM=xterm")
	}
	for _, e := range c.madeEnv() {
		env = append(env, e.Name+"="+e.Value)
	}
	return env
}

// madeEnv is the container's environment as made for its current or last
// start (see resolveEnv).
func (c *container) madeEnv() []kube.EnvVar {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.env
}

// vars is the container's environment by name, for $(VAR) references in
// its command and args.
func (c *container) vars() map[string]string {
	vars := map[string]string{}
	for _, e := range c.madeEnv() {
		vars[e.Name] = e.Value
	}
	return vars
}

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// workDir is the container's working directory: its workingDir, else the
// pod's directory.
func (c *container) workDir() string {
	if c.spec.WorkingDir != "" {
		return c.spec.WorkingDir
	}
	return c.pod.dir
}

// lookPath resolves file as execve would in a process with env and working
// directory dir: names with a slash are taken as they are (relative to
// dir), others are searched in env's PATH. When nothing executable is
// found the error wraps exec.ErrNotFound, with runc's wording
// ("executable file not found in $PATH").
func lookPath(file string, env []string, dir string) (string, error) {
	if strings.Contains(file, "/") {
		p := file
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := executable(p); err != nil {
			return "", &notFoundError{fmt.Sprintf("exec: %q: %v", file, err), err}
		}
		return p, nil
	}
	path := defaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, file)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", &notFoundError{fmt.Sprintf("exec: %q: executable file not found in $PATH", file), nil}
}

// notFoundError is a command that cannot be run; it matches
// exec.ErrNotFound and its cause (fs.ErrNotExist, fs.ErrPermission).
type notFoundError struct {
	msg   string
	cause error
}

func (e *notFoundError) Error() string   { return e.msg }
func (e *notFoundError) Unwrap() []error { return []error{exec.ErrNotFound, e.cause} }

// executable reports why p cannot be executed, or nil.
func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fs.ErrNotExist
		}
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}
