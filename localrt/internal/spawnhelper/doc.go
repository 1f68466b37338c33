// Package spawnhelper is the helper side of localrt's spawn helper: a
// process, this same executable, that starts processes for a server whose
// descriptor table has grown large (see localrt's spawnhelper_linux.go for
// why). The executable becomes a helper in this package's init, when
// Env is set: the package imports only the standard library, so that its
// init runs early, before most of the program's packages have initialized
// (fewer pages touched, less memory for the helper).
package spawnhelper
