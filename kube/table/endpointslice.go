package table

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/porthole/porthole/kube"
)

// EndpointSliceColumns are the columns of the API server's EndpointSlice
// table.
var EndpointSliceColumns = []kube.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the EndpointSlice."},
	{Name: "AddressType", Type: "string", Description: "The type of address the slice carries."},
	{Name: "Ports", Type: "string", Description: "The slice's port numbers."},
	{Name: "Endpoints", Type: "string", Description: "The first addresses of the slice."},
	{Name: "Age", Type: "string", Description: "Time since the EndpointSlice was created."},
}

// EndpointSliceRow returns the cells of s for EndpointSliceColumns, as of
// now: the first three ports and addresses each, and how many more.
func EndpointSliceRow(s *kube.EndpointSlice, now time.Time) []any {
	var ports []string
	for _, p := range s.Ports {
		if p.Port == nil {
			ports = append(ports, "<unset>")
			continue
		}
		ports = append(ports, strconv.Itoa(int(*p.Port)))
	}
	var addrs []string
	for _, e := range s.Endpoints {
		addrs = append(addrs, e.Addresses...)
	}
	return []any{s.Name, s.AddressType, firstOf(ports), firstOf(addrs), Age(s.CreationTimestamp, now)}
}

// firstOf lists the first three of items and counts the rest; none is
// <unset>.
func firstOf(items []string) string {
	switch {
	case len(items) == 0:
		return "<unset>"
	case len(items) > endpointsShown:
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:endpointsShown], ","), len(items)-endpointsShown)
	default:
		return strings.Join(items, ",")
	}
}
