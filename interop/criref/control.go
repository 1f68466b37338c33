package criref

import (
	"encoding/json"
	"net/http"
	"runtime"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// routeControl registers the endpoints a separate process (crirefd) needs
// so that a client in another process can drive it:
//
//	POST /criref/exec         body: runtimeapi.ExecRequest JSON        -> {"url": one-time CRI URL}
//	POST /criref/attach       body: runtimeapi.AttachRequest JSON      -> {"url": ...}
//	POST /criref/portforward  body: runtimeapi.PortForwardRequest JSON -> {"url": ...}
//	GET  /criref/memstats     -> Go heap figures after a forced GC (MemStats)
//
// They stand in for the kubelet's gRPC calls to the runtime.
func (s *Server) routeControl(mux *http.ServeMux) {
	mux.HandleFunc("POST /criref/exec", func(w http.ResponseWriter, r *http.Request) {
		var req runtimeapi.ExecRequest
		mint(w, r, &req, func() (string, error) { return s.ExecURL(&req) })
	})
	mux.HandleFunc("POST /criref/attach", func(w http.ResponseWriter, r *http.Request) {
		var req runtimeapi.AttachRequest
		mint(w, r, &req, func() (string, error) { return s.AttachURL(&req) })
	})
	mux.HandleFunc("POST /criref/portforward", func(w http.ResponseWriter, r *http.Request) {
		var req runtimeapi.PortForwardRequest
		mint(w, r, &req, func() (string, error) { return s.PortForwardURL(&req) })
	})
	mux.HandleFunc("GET /criref/memstats", serveMemStats)
}

// URLResponse is the answer of the /criref/{exec,attach,portforward} endpoints.
type URLResponse struct {
	URL string `json:"url"`
}

// MemStats is the answer of /criref/memstats.
type MemStats struct {
	HeapAlloc  uint64 `json:"heapAlloc"`
	HeapInuse  uint64 `json:"heapInuse"`
	StackInuse uint64 `json:"stackInuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
}

func mint(w http.ResponseWriter, r *http.Request, req any, get func() (string, error)) {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(req); err != nil {
		http.Error(w, "decode request: "+err.Error(), http.StatusBadRequest)
		return
	}
	u, err := get()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(URLResponse{URL: u})
}

func serveMemStats(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(MemStats{
		HeapAlloc: m.HeapAlloc, HeapInuse: m.HeapInuse, StackInuse: m.StackInuse,
		Sys: m.Sys, Goroutines: runtime.NumGoroutine(),
	})
}
