package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
					return &fieldError{path + ".resources.requests", fmt.Sprintf("Invalid value: %q: must be less than or equal to %s limit of %s", fmt.Sprint(m[name]), name, fmt.Sprint(c.limitText(name)))}
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

// UnmarshalJSON reads requests and limits with their quantities as the
// API server keeps and serves them back (see ResourceQuantity): "0.5" is
// 500m, "1024Mi" 1Gi, a JSON number as its text reads; a value that is no
// quantity is kept for validation to refuse.
func (r *Resources) UnmarshalJSON(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return err
	}
	for _, kind := range []string{"limits", "requests"} {
		qs, ok := m[kind].(map[string]any)
		if !ok {
			continue
		}
		for name, v := range qs {
			var s string
			switch t := v.(type) {
			case json.Number:
				s = t.String()
				qs[name] = s // a quantity is a string, whatever it is
			case string:
				s = t
			default:
				continue
			}
			if c, ok := ResourceQuantity(s); ok {
				qs[name] = c
			}
		}
	}
	*r = m
	return nil
}

// decimalSuffixes and binarySuffixes name powers of 10 and of 1024;
// decimalPowers and binaryPowers are the powers they name.
var (
	decimalSuffixes = map[int]string{-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
	binarySuffixes  = map[int]string{0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}
	decimalPowers   = map[string]int{"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
	binaryPowers    = map[string]int{"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
)

// quantity formats, as the API server's.
const (
	decimalSI = iota
	binarySI
	decimalExponent
)

// ResourceQuantity is a requests' or limits' quantity as the API server
// serves it back once read: rounded up to milli units, as its defaulting
// of resource lists does, then as CanonicalQuantity. False when s is no
// quantity.
func ResourceQuantity(s string) (string, bool) { return quantityString(s, true) }

// CanonicalQuantity is a quantity as the API server writes it once read:
// as written when it is already in a form the API server keeps ("500m",
// "1Gi", but also "5." or "+1": its parser's quirk), else its value,
// rounded up to nano units, in its own kind of suffix (decimal k, M, ...;
// binary Ki, Mi, ...; an exponent e3) with the largest power that leaves
// an integer, a decimal exponent a multiple of 3; a binary quantity under
// 1024 or not whole is written decimal. False when s is no quantity.
func CanonicalQuantity(s string) (string, bool) { return quantityString(s, false) }

func quantityString(s string, milli bool) (string, bool) {
	m := quantityRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	number, suffix := m[1], m[2]
	neg := strings.HasPrefix(number, "-")
	number = strings.TrimLeft(number, "+-")
	whole, frac, _ := strings.Cut(number, ".")
	if strings.Contains(frac, ".") || whole+frac == "" {
		return "", false
	}
	// Bounded arithmetic, whatever the text's length (a patch may be a
	// megabyte of digits): a whole part of over 3000 digits is 10^1000 or
	// more under any exponent, refused below; past 2100 fractional digits
	// (more than an exponent of 2000 and nano units reach), only whether
	// any is not zero counts, for the rounding up.
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 3000 {
		return "", false
	}
	if len(frac) > 2100 {
		sticky := strings.Trim(frac[2100:], "0") != ""
		frac = frac[:2100]
		if sticky {
			frac += "1"
		}
	}
	digits, ok := new(big.Int).SetString(whole+frac+"0", 10) // "0": an empty part is 0
	if !ok {
		return "", false
	}
	value := new(big.Rat).SetFrac(digits, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac)+1)), nil))
	format, power := decimalSI, 0
	if e, ok := decimalPowers[suffix]; ok {
		power = e
		value.Mul(value, pow10Rat(e))
	} else if k, ok := binaryPowers[suffix]; ok {
		format, power = binarySI, 10*k
		value.Mul(value, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), uint(power))))
	} else if len(suffix) > 1 && (suffix[0] == 'e' || suffix[0] == 'E') {
		e, err := strconv.Atoi(suffix[1:])
		if err != nil || e < -2000 || e > 2000 {
			return "", false
		}
		format, power = decimalExponent, e
		value.Mul(value, pow10Rat(e))
	} else {
		return "", false
	}
	if new(big.Rat).Abs(value).Cmp(pow10Rat(1000)) >= 0 {
		return "", false // no resource is that large: refused, not computed
	}
	kept := keptAsWritten(whole, frac, format, power)
	if milli {
		// Rounded up to milli units: a value that changes loses the
		// form it was written in.
		millis := new(big.Rat).Mul(value, pow10Rat(3))
		if !millis.IsInt() {
			n := new(big.Int).Quo(millis.Num(), millis.Denom())
			n.Add(n, big.NewInt(1))
			value.SetFrac(n, big.NewInt(1000))
			kept = false
		}
	}
	if kept {
		return s, true
	}
	// Nano units, rounded up (away from zero).
	nanos := new(big.Rat).Mul(value, pow10Rat(9))
	n := new(big.Int).Quo(nanos.Num(), nanos.Denom())
	if new(big.Rat).SetInt(n).Cmp(nanos) != 0 {
		n.Add(n, big.NewInt(1))
	}
	if n.Sign() == 0 {
		return "0", true
	}
	maxBinary := new(big.Int).Mul(big.NewInt(math.MaxInt64), big.NewInt(1e9))
	if format == binarySI && n.Cmp(maxBinary) > 0 {
		n.Set(maxBinary)
	}
	billion := big.NewInt(1e9)
	if format == binarySI {
		whole, rest := new(big.Int).QuoRem(n, billion, new(big.Int))
		if rest.Sign() != 0 || whole.CmpAbs(big.NewInt(1024)) < 0 {
			format = decimalSI
		} else {
			k := 0
			r := new(big.Int)
			for k < 6 {
				q, rem := new(big.Int).QuoRem(whole, big.NewInt(1024), r)
				if rem.Sign() != 0 {
					break
				}
				whole, k = q, k+1
			}
			return signed(neg, whole.String()+binarySuffixes[k]), true
		}
	}
	// Decimal: the mantissa without factors of 10, its exponent then
	// lowered to a multiple of 3.
	exp := -9
	ten := big.NewInt(10)
	for {
		q, rem := new(big.Int).QuoRem(n, ten, new(big.Int))
		if rem.Sign() != 0 {
			break
		}
		n, exp = q, exp+1
	}
	for exp%3 != 0 {
		n.Mul(n, ten)
		exp--
	}
	if name, ok := decimalSuffixes[exp]; ok && format == decimalSI {
		return signed(neg, n.String()+name), true
	}
	if exp == 0 {
		return signed(neg, n.String()), true
	}
	return signed(neg, n.String()+"e"+strconv.Itoa(exp)), true
}

// keptAsWritten says whether the API server's parser keeps a quantity's
// text as written, which it does when the quantity fits its small form
// and its digits (leading zeros left out) and power are already canonical
// (no trailing 000, a power of 10 a multiple of 3; a binary multiple not
// of 8), whatever else the text holds.
func keptAsWritten(whole, frac string, format, power int) bool {
	if whole == "" {
		whole = "0"
	}
	if format == binarySI {
		if frac != "" || 15-len(whole)-int(float32(power)*3/10)-1 < 0 {
			return false
		}
		v, err := strconv.ParseInt(whole, 10, 64)
		if err != nil || v > math.MaxInt64>>power {
			return false
		}
		return v&0x07 != 0
	}
	scale := power - len(frac)
	shifted := whole + frac
	if 18-len(whole)-len(frac) < 0 || scale < -9 {
		return false
	}
	return scale%3 == 0 && !strings.HasSuffix(shifted, "000") && shifted[0] != '0'
}

func pow10Rat(e int) *big.Rat {
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(e))), nil)
	if e < 0 {
		return new(big.Rat).SetFrac(big.NewInt(1), p)
	}
	return new(big.Rat).SetInt(p)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func signed(neg bool, s string) string {
	if neg {
		return "-" + s
	}
	return s
}
