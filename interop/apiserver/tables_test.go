package apiserver

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/table"
)

// TestEventTable: porthole serve's Event table, which kubectl get events
// prints, has the real API server's columns, and the same cells for the
// same events: a kubelet's counted container event, a controller's, and
// a newer-API singleton with no count and no source.
func TestEventTable(t *testing.T) {
	ctx := t.Context()
	long := metav1.NewTime(time.Now().Add(-50 * time.Hour).Truncate(time.Second))
	later := metav1.NewTime(time.Now().Add(-26 * time.Hour).Truncate(time.Second))
	ref := corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "tables", UID: "uid-tables", APIVersion: "v1"}
	events := []*corev1.Event{
		{ObjectMeta: metav1.ObjectMeta{Name: "tables.a"}, InvolvedObject: withPath(ref, "spec.containers{c}"),
			Reason: "BackOff", Message: "Back-off restarting failed container c in pod tables_default(uid-tables) ", Type: "Warning",
			Source: corev1.EventSource{Component: "kubelet", Host: "porthole"}, ReportingController: "kubelet", ReportingInstance: "porthole",
			FirstTimestamp: long, LastTimestamp: later, Count: 7},
		{ObjectMeta: metav1.ObjectMeta{Name: "tables.b"}, InvolvedObject: corev1.ObjectReference{Kind: "ReplicaSet", Namespace: "default", Name: "web-1", APIVersion: "apps/v1"},
			Reason: "SuccessfulCreate", Message: "Created pod: web-1-abcde", Type: "Normal",
			Source: corev1.EventSource{Component: "replicaset-controller"}, FirstTimestamp: later, LastTimestamp: later, Count: 1},
		{ObjectMeta: metav1.ObjectMeta{Name: "tables.c"}, InvolvedObject: ref, Reason: "Scheduled", Message: "Successfully assigned default/tables to porthole",
			Type: "Normal", ReportingController: "default-scheduler", ReportingInstance: "default-scheduler-porthole", FirstTimestamp: long},
	}
	var want []kube.TableRow
	for _, ev := range events {
		created, err := env.cp.Admin.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.cp.Admin.CoreV1().Events("default").Delete(ctx, created.Name, metav1.DeleteOptions{}) })
		var ours kube.Event
		recode(t, created, &ours)
		want = append(want, kube.TableRow{Cells: table.EventRow(&ours, time.Now())})
	}
	compareTable(t, "/api/v1/namespaces/default/events", table.EventColumns, []string{events[0].Name, events[1].Name, events[2].Name}, want)
}

// TestEndpointsTable: porthole serve's Endpoints table, which kubectl get
// endpoints prints, has the real API server's columns, and the same cells
// for the same Endpoints: more addresses than the cell lists, over two
// subsets; addresses without ports (headless); only addresses not ready;
// no subsets at all.
func TestEndpointsTable(t *testing.T) {
	ctx := t.Context()
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	eps := []*corev1.Endpoints{
		{ObjectMeta: metav1.ObjectMeta{Name: "tables-ep-many"}, Subsets: []corev1.EndpointSubset{
			{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Name: "http", Port: 80, Protocol: "TCP"}, {Name: "https", Port: 443, Protocol: "TCP"}}},
			{Addresses: addrs("10.0.0.3"), NotReadyAddresses: addrs("10.0.0.9"), Ports: []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}}},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "tables-ep-headless"}, Subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.1.1", "fd00::1")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "tables-ep-unready"}, Subsets: []corev1.EndpointSubset{
			{NotReadyAddresses: addrs("10.0.2.1"), Ports: []corev1.EndpointPort{{Port: 53, Protocol: "UDP"}}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "tables-ep-empty"}},
	}
	var ours []*kube.Endpoints
	var names []string
	for _, ep := range eps {
		created, err := env.cp.Admin.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = env.cp.Admin.CoreV1().Endpoints("default").Delete(context.Background(), created.Name, metav1.DeleteOptions{})
		})
		var e kube.Endpoints
		recode(t, created, &e)
		ours = append(ours, &e)
		names = append(names, ep.Name)
	}
	compareTableAt(t, "/api/v1/namespaces/default/endpoints", table.EndpointsColumns, names, func(now time.Time) []kube.TableRow {
		var rows []kube.TableRow
		for _, e := range ours {
			rows = append(rows, kube.TableRow{Cells: table.EndpointsRow(e, now)})
		}
		return rows
	})
}

// TestEndpointSliceTable: porthole serve's EndpointSlice table, which
// kubectl get endpointslices prints, has the real API server's columns,
// and the same cells for the same slices: more ports and addresses than
// the cells list, a port without a number, and none of either.
func TestEndpointSliceTable(t *testing.T) {
	ctx := t.Context()
	port := func(n int32) *int32 { return &n }
	name := func(s string) *string { return &s }
	slices := []*discoveryv1.EndpointSlice{
		{ObjectMeta: metav1.ObjectMeta{Name: "tables-es-many"}, AddressType: discoveryv1.AddressTypeIPv4,
			Ports:     []discoveryv1.EndpointPort{{Name: name("a"), Port: port(80)}, {Name: name("b"), Port: port(443)}, {Name: name("c"), Port: port(8080)}, {Name: name("d"), Port: port(9090)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2"}}, {Addresses: []string{"10.0.0.3"}}, {Addresses: []string{"10.0.0.4"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "tables-es-allports"}, AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: name("")}}, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.1.1"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "tables-es-empty"}, AddressType: discoveryv1.AddressTypeIPv6},
	}
	var ours []*kube.EndpointSlice
	var names []string
	for _, es := range slices {
		created, err := env.cp.Admin.DiscoveryV1().EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = env.cp.Admin.DiscoveryV1().EndpointSlices("default").Delete(context.Background(), created.Name, metav1.DeleteOptions{})
		})
		var s kube.EndpointSlice
		recode(t, created, &s)
		ours = append(ours, &s)
		names = append(names, es.Name)
	}
	compareTableAt(t, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", table.EndpointSliceColumns, names, func(now time.Time) []kube.TableRow {
		var rows []kube.TableRow
		for _, s := range ours {
			rows = append(rows, kube.TableRow{Cells: table.EndpointSliceRow(s, now)})
		}
		return rows
	})
}

func withPath(r corev1.ObjectReference, path string) corev1.ObjectReference {
	r.FieldPath = path
	return r
}

// recode converts one JSON shape into another.
func recode(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// TestNodeTable: porthole serve's Node table, which kubectl get nodes
// prints, has the real API server's columns, and the same cells for the
// same nodes: ready with roles and every fact, not ready and cordoned
// with none.
func TestNodeTable(t *testing.T) {
	ctx := t.Context()
	nodes := []*corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "tables-a", Labels: map[string]string{
			"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "", "kubernetes.io/role": "edge"}},
			Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{{Type: "MemoryPressure", Status: "False"}, {Type: "Ready", Status: "True"}},
				Addresses:  []corev1.NodeAddress{{Type: "Hostname", Address: "a"}, {Type: "InternalIP", Address: "10.0.0.1"}, {Type: "ExternalIP", Address: "192.0.2.1"}},
				NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.33.0-porthole", OSImage: "Debian GNU/Linux 12 (bookworm)",
					KernelVersion: "6.1.0", Architecture: "amd64", ContainerRuntimeVersion: "porthole://local"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "tables-b"}, Spec: corev1.NodeSpec{Unschedulable: true},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: "Ready", Status: "Unknown"}}}},
	}
	var ours []*kube.Node
	for _, n := range nodes {
		created, err := env.cp.Admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = env.cp.Admin.CoreV1().Nodes().Delete(context.Background(), created.Name, metav1.DeleteOptions{})
		})
		created.Status = n.Status
		if created, err = env.cp.Admin.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		var n kube.Node
		recode(t, created, &n)
		ours = append(ours, &n)
	}
	// Created just now: the age depends on the moment of the request.
	compareTableAt(t, "/api/v1/nodes", table.NodeColumns, []string{nodes[0].Name, nodes[1].Name}, func(now time.Time) []kube.TableRow {
		var rows []kube.TableRow
		for _, n := range ours {
			rows = append(rows, kube.TableRow{Cells: table.NodeRow(n, now)})
		}
		return rows
	})
}

// compareTable fetches the API server's Table at path and compares its
// columns with porthole's, and the rows of the named objects with want.
func compareTable(t *testing.T, path string, columns []kube.TableColumnDefinition, names []string, want []kube.TableRow) {
	t.Helper()
	compareTableAt(t, path, columns, names, func(time.Time) []kube.TableRow { return want })
}

// compareTableAt is compareTable for rows whose cells depend on the time
// (the age of objects created just now): each row must be porthole's as
// of a moment between the request and the answer.
func compareTableAt(t *testing.T, path string, columns []kube.TableColumnDefinition, names []string, want func(now time.Time) []kube.TableRow) {
	t.Helper()
	before := time.Now()
	raw, err := env.cp.Admin.CoreV1().RESTClient().Get().AbsPath(path).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	var theirs kube.Table
	if err := json.Unmarshal(raw, &theirs); err != nil {
		t.Fatal(err)
	}
	if len(theirs.ColumnDefinitions) != len(columns) {
		t.Fatalf("the API server has %d columns, porthole %d", len(theirs.ColumnDefinitions), len(columns))
	}
	nameColumn := -1
	for i, c := range theirs.ColumnDefinitions {
		o := columns[i]
		if c.Name != o.Name || c.Type != o.Type || c.Format != o.Format || c.Priority != o.Priority {
			t.Errorf("column %d: the API server has %+v, porthole %+v", i, c, o)
		}
		if c.Format == "name" {
			nameColumn = i
		}
	}
	rows := map[string]string{}
	for _, r := range theirs.Rows {
		b, _ := json.Marshal(r.Cells)
		rows[r.Cells[nameColumn].(string)] = string(b)
	}
	early, late := want(before), want(after)
	for i := range early {
		b, _ := json.Marshal(early[i].Cells)
		l, _ := json.Marshal(late[i].Cells)
		if got := rows[names[i]]; got != string(b) && got != string(l) {
			t.Errorf("%s: the API server's cells %s, porthole's %s", names[i], got, b)
		}
	}
}
