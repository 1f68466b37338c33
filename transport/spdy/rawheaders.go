package spdy

import (
	"reflect"
	"unsafe"

	spdyframe "github.com/moby/spdystream/spdy"
)

// rawHeaders is a framer option that makes spdystream write and read header
// blocks uncompressed, and reports through ok whether that worked. The wire
// then does the compression both ways: headerEncoder outbound (stored
// blocks, no compressor state), frameGate's decoder inbound, which we run
// anyway for the limits.
//
// Why: spdystream's framer compresses at best compression with
// compress/flate, whose compressor holds about 650 KiB of hash tables from
// the first header frame to the end of the connection, nine tenths of an
// idle exec session's memory; and it would decompress every block a second
// time after the gate. spdystream has the switch (Framer's
// headerCompressionDisabled, honoured by every read and write path) but no
// option to set it, so this sets the field by name. If a spdystream version
// lacks it, ok stays false and spdystream compresses as before: the wire and
// the gate check ok and leave header blocks alone.
func rawHeaders(ok *bool) spdyframe.FramerOption {
	return func(f *spdyframe.Framer) {
		field, found := reflect.TypeFor[spdyframe.Framer]().FieldByName("headerCompressionDisabled")
		if !found || field.Type.Kind() != reflect.Bool {
			return
		}
		*(*bool)(unsafe.Add(unsafe.Pointer(f), field.Offset)) = true
		*ok = true
	}
}
