// Package cli holds what every porthole command shares: the Factory of
// dependencies a command receives and the error types the root command
// maps to exit codes. Each command lives in its own subpackage with a
// NewCmd(f, runF) constructor, so tests can run its flag parsing alone.
package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/porthole/porthole/internal/iostreams"
)

// Factory provides a command's dependencies.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// ConfigDir returns the user's configuration directory, where porthole
	// keeps its files (default os.UserConfigDir).
	ConfigDir func() (string, error)
	// Executable is the porthole binary itself, for processes that run it
	// (the demo pod's web container); nil where there is none (tests).
	Executable func() (string, error)
}

// New returns the factory of the real process.
func New() *Factory {
	return &Factory{IOStreams: iostreams.System(), ConfigDir: os.UserConfigDir, Executable: os.Executable}
}

// Logger returns a text logger on the factory's stderr for a kubectl-style
// verbosity: 0 warnings and errors, 1-3 adds info, 4 and more adds debug.
func (f *Factory) Logger(verbosity int) *slog.Logger {
	level := slog.LevelWarn
	switch {
	case verbosity >= 4:
		level = slog.LevelDebug
	case verbosity >= 1:
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(f.IOStreams.ErrOut, &slog.HandlerOptions{Level: level}))
}

// FlagError is a usage error: bad flags or arguments. The root command
// prints it with a pointer to --help.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf returns a *FlagError with a formatted message.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// VerbosityFlag is the kubectl-style log level flag, -v/--v.
const VerbosityFlag = "v"

// AddGlobalFlags defines the flags every command inherits from the root.
func AddGlobalFlags(fs *pflag.FlagSet) {
	fs.IntP(VerbosityFlag, VerbosityFlag, 0, "log verbosity: 0 warnings, 1 info, 4 debug")
}

// KubeconfigEnv is the KUBECONFIG value a client command loads with: env
// itself, or, when neither --kubeconfig (path) nor KUBECONFIG is set and
// home has no ~/.kube/config, the kubeconfig `porthole serve` writes, so
// every verb finds the demo without flags.
func (f *Factory) KubeconfigEnv(path, env, home string) string {
	if path != "" || env != "" || f.ConfigDir == nil {
		return env
	}
	if _, err := os.Stat(filepath.Join(home, ".kube", "config")); !errors.Is(err, fs.ErrNotExist) {
		return env
	}
	dir, err := f.ConfigDir()
	if err != nil {
		return env
	}
	return filepath.Join(dir, "porthole", "kubeconfig")
}

// ConfigSubdir is $XDG_CONFIG_HOME/porthole/name (os.UserConfigDir's), or
// "" when the user has no configuration directory.
func (f *Factory) ConfigSubdir(name string) string {
	if f.ConfigDir == nil {
		return ""
	}
	dir, err := f.ConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "porthole", name)
}

// CertDir is where a command keeps the certificates it makes for itself:
// flag (--cert-dir) when set, else $XDG_CONFIG_HOME/porthole/name, else a
// temporary directory that cleanup removes (cleanup is never nil).
func (f *Factory) CertDir(flag, name string) (dir string, cleanup func(), err error) {
	cleanup = func() {}
	if flag != "" {
		return flag, cleanup, nil
	}
	if dir = f.ConfigSubdir(name); dir != "" {
		return dir, cleanup, nil
	}
	tmp, err := os.MkdirTemp("", "porthole-"+name+"-certs-")
	if err != nil {
		return "", cleanup, fmt.Errorf("certificate directory: %w", err)
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}
