package gateway

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series, all prefixed porthole_gateway_.
type metrics struct {
	active       *prometheus.GaugeVec
	total        *prometheus.CounterVec
	refusals     *prometheus.CounterVec
	upgradeFails *prometheus.CounterVec
	translations *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	keepAlives   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "porthole_gateway_sessions_active",
			Help: "Streaming sessions in progress."}, []string{"verb", "wire"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "porthole_gateway_sessions_total",
			Help: "Streaming sessions ended, by outcome."}, []string{"verb", "wire", "outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "porthole_gateway_requests_refused_total",
			Help: "Requests refused before any upgrade, by reason."}, []string{"verb", "reason"}),
		upgradeFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "porthole_gateway_upgrade_failures_total",
			Help: "Upstream upgrades that did not end in a 101, by cause."}, []string{"cause"}),
		translations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "porthole_gateway_translations_total",
			Help: "Sessions translated between wires, by kind."}, []string{"kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "porthole_gateway_bytes_total",
			Help: "Bytes carried by sessions, by direction (in: client to upstream)."}, []string{"direction"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "porthole_gateway_session_duration_seconds",
			Help:    "Duration of streaming sessions.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"verb"}),
		keepAlives: prometheus.NewCounter(prometheus.CounterOpts{Name: "porthole_gateway_keepalive_pings_total",
			Help: "Keep-alive pings sent to clients of spliced sessions."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.active, m.total, m.refusals, m.upgradeFails, m.translations, m.bytes, m.duration, m.keepAlives} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register gateway metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) refused(verb, reason string) { m.refusals.WithLabelValues(verb, reason).Inc() }

func (m *metrics) started(verb, wire string) { m.active.WithLabelValues(verb, wire).Inc() }

func (m *metrics) ended(verb, wire, outcome string, in, out int64, d time.Duration) {
	m.active.WithLabelValues(verb, wire).Dec()
	m.total.WithLabelValues(verb, wire, outcome).Inc()
	m.bytes.WithLabelValues("in").Add(float64(in))
	m.bytes.WithLabelValues("out").Add(float64(out))
	m.duration.WithLabelValues(verb).Observe(d.Seconds())
}
