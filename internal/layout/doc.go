// Package layout holds the test that keeps the architecture one-way: each
// package may import only packages of its own layer or the layers below it
// (see STYLE.md, "the architecture is the directory tree").
package layout
