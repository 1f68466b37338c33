package kube

import "strings"

// Default fills what the API server fills in a pod spec it stores (a pod's,
// or a workload's template): clients read these fields and some, like
// kubectl debug with the security context, dereference them unchecked.
func (s *PodSpec) Default() {
	if s.RestartPolicy == "" {
		s.RestartPolicy = "Always"
	}
	if s.TerminationGracePeriodSeconds == nil {
		g := int64(30)
		s.TerminationGracePeriodSeconds = &g
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = "ClusterFirst"
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &PodSecurityContext{}
	}
	if s.SchedulerName == "" {
		s.SchedulerName = "default-scheduler"
	}
	for _, cs := range [][]Container{s.InitContainers, s.Containers} {
		for i := range cs {
			cs[i].defaults()
		}
	}
	for i := range s.EphemeralContainers {
		s.EphemeralContainers[i].defaults()
	}
}

func (c *Container) defaults() {
	if c.Resources == nil || *c.Resources == nil {
		c.Resources = &Resources{}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = "/dev/termination-log"
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = "File"
	}
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = pullPolicy(c.Image)
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = "TCP"
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
}

// pullPolicy is the API server's default for an image: Always for the
// latest tag, named or implied (no tag and no digest), IfNotPresent for
// any other tag, a digest alone, or no image.
func pullPolicy(image string) string {
	if image == "" {
		return "IfNotPresent"
	}
	ref, digest, _ := strings.Cut(image, "@")
	name := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, tagged := strings.Cut(name, ":")
	if tag == "latest" || (!tagged && digest == "") {
		return "Always"
	}
	return "IfNotPresent"
}
