package bench

import (
	"errors"
	"strings"
	"testing"
)

func TestTableWrite(t *testing.T) {
	tab := &Table{Nodes: []string{"porthole", "kubelet-lib"}, Rows: []*Row{
		{Name: "speed", Unit: "MB/s", HigherBetter: true, Values: map[string]Value{"porthole": {V: 300}, "kubelet-lib": {V: 200}}},
		{Name: "memory", Unit: "KiB", Values: map[string]Value{"porthole": {Err: errors.New("boom")}, "kubelet-lib": {V: 80}}},
		{Name: "memory2", Unit: "KiB", Values: map[string]Value{"porthole": {Err: errors.New("boom")}, "kubelet-lib": {V: 0}}},
	}}
	var b strings.Builder
	if err := tab.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `row     |unit |porthole |kubelet-lib |ratio |better
speed   |MB/s |300.0    |200.0       |1.50  |higher
memory  |KiB  |n/a [1]  |80.0        |-     |lower
memory2 |KiB  |n/a [1]  |0.00        |-     |lower
[1] porthole: boom
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
