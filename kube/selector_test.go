package kube

import "testing"

func TestLabelSelector(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front", "empty": ""}
	for _, tc := range []struct {
		sel   string
		match bool
		canon string
	}{
		{"", true, ""},
		{"app=web", true, "app=web"},
		{"app==web", true, "app=web"},
		{"app = web", true, "app=web"},
		{"app=db", false, "app=db"},
		{"app!=db", true, "app!=db"},
		{"app!=web", false, "app!=web"},
		{"missing!=x", true, "missing!=x"},
		{"app=web,tier=front", true, "app=web,tier=front"},
		{"app=web,tier=back", false, "app=web,tier=back"},
		{"tier", true, "tier"},
		{"!tier", false, "!tier"},
		{"!nope", true, "!nope"},
		{"empty=", true, "empty="},
		{"tier in (front,back)", true, "tier in (front,back)"},
		{"tier in (back)", false, "tier in (back)"},
		{"tier notin (back), app", true, "tier notin (back),app"},
		{"missing notin (x)", true, "missing notin (x)"},
	} {
		s, err := ParseLabelSelector(tc.sel)
		if err != nil {
			t.Errorf("ParseLabelSelector(%q): %v", tc.sel, err)
			continue
		}
		if got := s.Matches(Label(labels)); got != tc.match {
			t.Errorf("%q matches %v = %v, want %v", tc.sel, labels, got, tc.match)
		}
		if got := s.String(); got != tc.canon {
			t.Errorf("%q String() = %q, want %q", tc.sel, got, tc.canon)
		}
	}
}

func TestSelectorErrors(t *testing.T) {
	for _, tc := range []struct {
		sel, want string
		field     bool
	}{
		{"=x", `unable to parse requirement "=x": empty key`, false},
		{"a=b,", `unable to parse requirement: empty requirement in "a=b,"`, false},
		{"a in b", `unable to parse requirement "a in b": set must be in parentheses`, false},
		{"a=(b", `unable to parse requirement "a=(b": invalid character in "(b"`, false},
		{"metadata.name", `unable to parse requirement "metadata.name": field selectors need an operator (=, == or !=)`, true},
	} {
		parse := ParseLabelSelector
		if tc.field {
			parse = ParseFieldSelector
		}
		_, err := parse(tc.sel)
		if err == nil || err.Error() != tc.want {
			t.Errorf("parse %q: got %v, want %s", tc.sel, err, tc.want)
		}
	}
}

func TestFieldSelector(t *testing.T) {
	p := &Pod{ObjectMeta: ObjectMeta{Name: "demo", Namespace: "default"}, Status: PodStatus{Phase: "Running"}}
	for _, tc := range []struct {
		sel   string
		match bool
	}{
		{"metadata.name=demo", true},
		{"metadata.name==demo", true},
		{"metadata.name=other", false},
		{"metadata.name!=demo", false},
		{"metadata.namespace=default,status.phase=Running", true},
		{"status.phase!=Running", false},
	} {
		s, err := ParseFieldSelector(tc.sel)
		if err != nil {
			t.Fatalf("ParseFieldSelector(%q): %v", tc.sel, err)
		}
		if got := s.Matches(PodField(p)); got != tc.match {
			t.Errorf("%q: got %v, want %v", tc.sel, got, tc.match)
		}
	}
}

// FuzzParseLabelSelector: never panics; a parsed selector's canonical form
// parses to the same canonical form.
func FuzzParseLabelSelector(f *testing.F) {
	for _, s := range []string{"app=web", "a!=b,c", "!x", "t in (a,b)", "t notin (a), x==y", "=", "a in b", ",,", "(a)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseLabelSelector(in)
		if err != nil {
			return
		}
		s.Matches(Label(map[string]string{"app": "web"}))
		again, err := ParseLabelSelector(s.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", s.String(), in, err)
		}
		if again.String() != s.String() {
			t.Fatalf("canonical form changed: %q -> %q", s.String(), again.String())
		}
	})
}
