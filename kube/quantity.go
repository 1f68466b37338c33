package kube

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
)

// quantityPattern is the form of a quantity, as the API server's
// resource.Quantity reads it.
const quantityPattern = `^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`

var quantityRE = regexp.MustCompile(quantityPattern)

// quantitySuffixes are the units a quantity may end in.
var quantitySuffixes = map[string]float64{
	"": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
}

// ParseQuantity reads a quantity ("500m", "1.5Gi", "2e3", or a JSON
// number) in its base unit: cores for cpu, bytes for memory.
func ParseQuantity(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case string:
		m := quantityRE.FindStringSubmatch(t)
		if m == nil {
			return 0, false
		}
		n, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return 0, false
		}
		if f, ok := quantitySuffixes[m[2]]; ok {
			return n * f, true
		}
		if len(m[2]) > 1 && (m[2][0] == 'e' || m[2][0] == 'E') {
			if exp, err := strconv.Atoi(m[2][1:]); err == nil {
				return n * pow10(exp), true
			}
		}
	}
	return 0, false
}

func pow10(exp int) float64 {
	f, _ := strconv.ParseFloat("1e"+strconv.Itoa(exp), 64)
	return f
}

// Resource is one of a container's requests or limits (kind "requests"
// or "limits", name "cpu", "memory", ...), in its base unit, and whether
// the container sets it. A request left out where a limit is set is the
// limit, as the API server defaults it.
func (c *Container) Resource(kind, name string) (float64, bool) {
	get := func(kind string) (float64, bool) {
		if c.Resources == nil {
			return 0, false
		}
		m, _ := (*c.Resources)[kind].(map[string]any)
		v, ok := m[name]
		if !ok {
			return 0, false
		}
		return ParseQuantity(v)
	}
	if v, ok := get(kind); ok || kind != "requests" {
		return v, ok
	}
	return get("limits")
}

// validateResources checks a container's requests and limits: quantities,
// not negative, no request over its limit.
func validateResources(c *Container, path string) *fieldError {
	if c.Resources == nil {
		return nil
	}
	for _, kind := range []string{"limits", "requests"} {
		v, ok := (*c.Resources)[kind]
		if !ok || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return &fieldError{path + ".resources." + kind, "Invalid value: must be a map of quantities"}
		}
		for _, name := range slices.Sorted(maps.Keys(m)) {
			p := fmt.Sprintf("%s.resources.%s[%s]", path, kind, name)
			q, ok := ParseQuantity(m[name])
			if !ok {
				return &fieldError{p, fmt.Sprintf("Invalid value: %q: quantities must match the regular expression '%s'", fmt.Sprint(m[name]), quantityPattern)}
			}
			if q < 0 {
				return &fieldError{p, fmt.Sprintf("Invalid value: %q: must be greater than or equal to 0", fmt.Sprint(m[name]))}
			}
			if kind == "requests" {
				if limit, ok := c.limit(name); ok && q > limit {
					return &fieldError{p, fmt.Sprintf("Invalid value: %q: must be less than or equal to %s limit of %s", fmt.Sprint(m[name]), name, fmt.Sprint(c.limitText(name)))}
				}
			}
		}
	}
	return nil
}

func (c *Container) limit(name string) (float64, bool) {
	m, _ := (*c.Resources)["limits"].(map[string]any)
	v, ok := m[name]
	if !ok {
		return 0, false
	}
	return ParseQuantity(v)
}

func (c *Container) limitText(name string) any {
	m, _ := (*c.Resources)["limits"].(map[string]any)
	return m[name]
}
