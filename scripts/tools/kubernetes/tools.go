//go:build tools

// Package tools pins the Kubernetes control plane binaries that scripts/setup-tools.sh builds for
// the real-engine tests (scripts/cluster.sh): kube-apiserver, kube-controller-manager (ReplicaSets, garbage
// collection, namespace deletion) and kube-scheduler (binds pods to the kwok nodes).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
