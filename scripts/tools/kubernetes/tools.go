//go:build tools

// Package tools pins the Kubernetes control plane binaries that scripts/setup-tools.sh builds for
// the real-engine tests (scripts/cluster.sh): kube-apiserver, kube-controller-manager (ReplicaSets, garbage
// collection, namespace deletion), kube-scheduler (binds pods to the kwok nodes) and kubectl of the
// same version (the tests' and the verification gate's port-forwards).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
