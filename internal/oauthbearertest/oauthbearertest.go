// Package oauthbearertest plays the broker side of SASL/OAUTHBEARER on a
// kfake cluster, which has no OAUTHBEARER of its own, and provides a token
// extension and a host to find it, for tests without an identity provider.
package oauthbearertest // import "github.com/kafkawake/kafkawake/internal/oauthbearertest"

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/component"
	"golang.org/x/oauth2"
)

const mechanism = "OAUTHBEARER"

// Broker records the client's first OAUTHBEARER message on every connection
// and accepts it, so that the requests that follow run normally.
type Broker struct {
	mu       sync.Mutex
	messages []string
}

// Script makes cluster, started without SASL, answer SASLHandshake and
// SASLAuthenticate as an OAUTHBEARER broker that accepts any token.
func Script(cluster *kfake.Cluster) *Broker {
	b := &Broker{}
	cluster.ControlKey(kmsg.SASLHandshake.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{mechanism}
		if req.(*kmsg.SASLHandshakeRequest).Mechanism != mechanism {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		}
		return resp, nil, true
	})
	cluster.ControlKey(kmsg.SASLAuthenticate.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		b.mu.Lock()
		b.messages = append(b.messages, string(req.(*kmsg.SASLAuthenticateRequest).SASLAuthBytes))
		b.mu.Unlock()
		return req.ResponseKind(), nil, true
	})
	return b
}

// Messages returns the client's initial messages received so far.
func (b *Broker) Messages() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.messages...)
}

// Tokens returns the bearer token of every message of the RFC 7628 form
// "n,,\x01auth=Bearer <token>\x01\x01"; a message of any other form is
// returned as "" so that a test sees it.
func (b *Broker) Tokens() []string {
	var tokens []string
	for _, m := range b.Messages() {
		token, ok := strings.CutPrefix(m, "n,,\x01auth=Bearer ")
		if ok {
			token, ok = strings.CutSuffix(token, "\x01\x01")
		}
		if !ok || strings.Contains(token, "\x01") {
			token = ""
		}
		tokens = append(tokens, token)
	}
	return tokens
}

// TokenSource is an extension that hands out one fixed access token, as
// contrib's oauth2client extension hands out the tokens it fetches.
type TokenSource struct {
	component.StartFunc
	component.ShutdownFunc
	AccessToken string
}

// Token implements the method the receiver looks for.
func (s *TokenSource) Token(context.Context) (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: s.AccessToken, TokenType: "Bearer"}, nil
}

// Host is a component.Host with the given extensions.
type Host map[component.ID]component.Component

// GetExtensions implements component.Host.
func (h Host) GetExtensions() map[component.ID]component.Component { return h }

// SetAWSCredentials makes the AWS default credential chain find these static
// credentials in the environment, and nothing of the machine's own AWS setup
// (profiles, shared files, instance metadata), for the rest of the test.
func SetAWSCredentials(t *testing.T, accessKeyID, secretAccessKey, sessionToken string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", accessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", sessionToken)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}
