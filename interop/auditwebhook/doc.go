// Package auditwebhook checks that what the gateway's --audit-webhook-url
// sends decodes, strictly, as the API server's own audit.k8s.io/v1
// EventList (k8s.io/apiserver's types), so a receiver of kube-apiserver's
// audit webhook takes it unchanged.
package auditwebhook
