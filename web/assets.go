package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"
)

// asset is one embedded file, ready to serve: its bytes, a gzip copy when
// that is smaller, and a strong ETag for each.
type asset struct {
	name       string
	raw, gz    []byte
	etag, gzTg string
}

var (
	assetsOnce sync.Once
	assets     map[string]*asset // by URL path: "/" for index.html, "/app.js", ...
)

// loadAssets compresses the embedded files once, at the first request
// (app.js is about 600 KB and gzips to under a third).
func loadAssets(sub fs.FS) map[string]*asset {
	assetsOnce.Do(func() {
		assets = map[string]*asset{}
		_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			raw, err := fs.ReadFile(sub, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(raw)
			a := &asset{name: p, raw: raw, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(raw)
			_ = zw.Close()
			if buf.Len() < len(raw) {
				a.gz, a.gzTg = buf.Bytes(), `"`+hex.EncodeToString(sum[:12])+`-gzip"`
			}
			key := "/" + p
			if p == "index.html" {
				key = "/"
			}
			assets[key] = a
			return nil
		})
	})
	return assets
}

// serveAsset answers a GET or HEAD of a known file, gzip-encoded when the
// client takes it, with an ETag (a revalidation with If-None-Match gets a
// 304 without the body). It reports false for paths it does not know.
func serveAsset(w http.ResponseWriter, r *http.Request, all map[string]*asset) bool {
	a, ok := all[r.URL.Path]
	if !ok {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Accept-Encoding")
	body, etag := a.raw, a.etag
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, etag = a.gz, a.gzTg
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
	return true
}

// acceptsGzip reads an Accept-Encoding header: gzip (or *) listed without
// q=0.
func acceptsGzip(v string) bool {
	for _, part := range strings.Split(v, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
			continue
		}
		return true
	}
	return false
}
