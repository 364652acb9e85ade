//go:build tools

// Package tools pins terraform-provider-kubernetes for scripts/setup-tools.sh, which builds it into the
// filesystem provider mirror under .tools/providers.
package tools

import _ "github.com/hashicorp/terraform-provider-kubernetes"
