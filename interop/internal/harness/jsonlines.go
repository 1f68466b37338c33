package harness

import (
	"bytes"
	"os"
)

// ReadJSONLines reads the lines a running process has finished writing to
// the JSON-lines file at path (an audit log): every line up to the last
// newline. The process may be writing the next line as the file is read,
// and a read can see part of that write; that part is not a line yet and
// is left out, to be read whole the next time. A missing file has none.
func ReadJSONLines(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return nil, nil
	}
	var lines [][]byte
	for _, l := range bytes.Split(b[:end], []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	return lines, nil
}
