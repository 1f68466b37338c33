package table

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/porthole/porthole/kube"
)

// EndpointsColumns are the columns of the API server's Endpoints table.
var EndpointsColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the Endpoints, the Service's."},
	{Name: "Endpoints", Type: "string", Description: "The first ready addresses, with each port."},
	{Name: "Age", Type: "string", Description: "Time since the Endpoints were created."},
}

// endpointsShown is how many addresses the Endpoints cell lists.
const endpointsShown = 3

// EndpointsRow returns the cells of e for EndpointsColumns, as of now:
// the ready addresses, each with every port of its subset (the address
// alone without ports), the first three and how many more.
func EndpointsRow(e *kube.Endpoints, now time.Time) []any {
	var shown []string
	total := 0
	add := func(s string) {
		total++
		if len(shown) < endpointsShown {
			shown = append(shown, s)
		}
	}
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	cell := "<none>"
	switch {
	case len(e.Subsets) == 0:
	case total > endpointsShown:
		cell = fmt.Sprintf("%s + %d more...", strings.Join(shown, ","), total-endpointsShown)
	default:
		cell = strings.Join(shown, ",")
	}
	return []any{e.Name, cell, Age(e.CreationTimestamp, now)}
}
