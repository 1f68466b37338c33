// Package deploy checks the gateway's manifests in ../deploy: rendered by
// real kubectl's kustomize, they hold what a team needs (two replicas that
// drain, probes on the gateway's own health, non-root and read-only,
// impersonation and nothing more), and the container's exact arguments,
// its mounts and the in-cluster kubeconfig start a real porthole gateway that
// serves its probes and reaches an API server as the manifests intend.
package deploy
