package serve

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// warner adds Warning headers to a response as the API server's recorder
// does (kubectl prints each as "Warning: ..."): each text once, in the
// order added, with agent "-"; past 4096 runes in all, every text is
// cut to 256 runes. It must be done before the response is written.
type warner struct {
	w          http.ResponseWriter
	ordered    []string
	recorded   map[string]bool
	written    int
	truncating bool
}

const (
	warningsTotalRunes = 4 * 1024
	warningItemRunes   = 256
)

func (r *warner) add(text string) {
	if text == "" || (r.truncating && r.written >= warningsTotalRunes) || r.recorded[text] {
		return
	}
	if r.recorded == nil {
		r.recorded = map[string]bool{}
	}
	r.recorded[text] = true
	r.ordered = append(r.ordered, text)
	if !r.truncating && r.written+utf8.RuneCountInString(text) > warningsTotalRunes {
		r.truncating = true
		r.written = 0
		r.w.Header().Del("Warning")
		for _, t := range r.ordered[:len(r.ordered)-1] {
			r.header(t)
		}
	}
	r.header(text)
}

func (r *warner) header(text string) {
	if r.truncating && utf8.RuneCountInString(text) > warningItemRunes {
		text = string([]rune(text)[:warningItemRunes])
	}
	if !utf8.ValidString(text) || strings.ContainsFunc(text, unicode.IsControl) {
		return // as the API server, which cannot quote it
	}
	r.written += utf8.RuneCountInString(text)
	r.w.Header().Add("Warning", `299 - "`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(text)+`"`)
}
