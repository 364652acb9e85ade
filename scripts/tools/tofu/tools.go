//go:build tools

// Pins OpenTofu for scripts/setup-tools.sh: `go build` of cmd/tofu from this module, which carries
// the replace line of OpenTofu's own go.mod (go install refuses modules with replace directives).
package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"
