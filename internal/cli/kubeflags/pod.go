package kubeflags

import (
	"fmt"
	"io"
	"strings"

	"github.com/porthole/porthole/kube"
)

// DefaultContainerAnnotation names the container kubectl picks when -c is
// not given (KEP-2227).
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// Container picks the container as kubectl does: -c, else the annotation,
// else the first container, printing "Defaulted container ..." to warn when
// there was a choice.
func Container(pod *kube.Pod, name string, warn io.Writer) (*kube.Container, error) {
	if len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("pod %s has no containers", pod.Name)
	}
	if name == "" {
		name = pod.Annotations[DefaultContainerAnnotation]
	}
	if name != "" {
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == name {
				return &pod.Spec.Containers[i], nil
			}
		}
		for i := range pod.Spec.InitContainers {
			if pod.Spec.InitContainers[i].Name == name {
				return &pod.Spec.InitContainers[i], nil
			}
		}
		for i := range pod.Spec.EphemeralContainers {
			if pod.Spec.EphemeralContainers[i].Name == name {
				return &pod.Spec.EphemeralContainers[i].Container, nil
			}
		}
		return nil, fmt.Errorf("container %s is not valid for pod %s out of: %s", name, pod.Name, allContainerNames(pod))
	}
	c := &pod.Spec.Containers[0]
	if len(pod.Spec.Containers) > 1 || len(pod.Spec.InitContainers) > 0 {
		fmt.Fprintf(warn, "Defaulted container %q out of: %s\n", c.Name, allContainerNames(pod))
	}
	return c, nil
}

func allContainerNames(pod *kube.Pod) string {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name+" (init)")
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name+" (ephem)")
	}
	return strings.Join(names, ", ")
}

// Completed reports kubectl's refusal for a finished pod, or nil.
func Completed(pod *kube.Pod, verb string) error {
	switch pod.Status.Phase {
	case "Succeeded", "Failed":
		return fmt.Errorf("cannot %s a container in a completed pod; current phase is %s", verb, pod.Status.Phase)
	}
	return nil
}
