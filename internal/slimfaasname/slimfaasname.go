// Package slimfaasname checks SlimFaas function names. A SlimFaas function
// is a Kubernetes Deployment, so its name is a DNS-1123 label; anything else
// cannot be a function, and a name such as ".." or "a/b" would change the
// wake URL's path.
package slimfaasname // import "github.com/kafkawake/kafkawake/internal/slimfaasname"

import "fmt"

// maxLength is the longest DNS-1123 label.
const maxLength = 63

// Validate returns an error saying why name cannot be a SlimFaas function.
func Validate(name string) error {
	if len(name) == 0 || len(name) > maxLength || !alphanumeric(name[0]) || !alphanumeric(name[len(name)-1]) {
		return invalid(name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alphanumeric(c) && c != '-' {
			return invalid(name)
		}
	}
	return nil
}

func alphanumeric(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

func invalid(name string) error {
	return fmt.Errorf("%q is not a SlimFaas function name: it must be the Deployment's name, a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit, at most %d characters)", name, maxLength)
}
