package agileplus

import (
	"strings"
	"testing"
)

// FuzzParseKeyToken: any string either parses into a prefix and secret
// that make up the token again, or is refused with EUNAUTHORIZED without
// repeating the token.
func FuzzParseKeyToken(f *testing.F) {
	tok, _, _ := NewKeyToken()
	for _, s := range []string{tok, "", "ap_", "ap_abcdefgh_" + strings.Repeat("0", 64), "ap_ABCDEFGH_" + strings.Repeat("f", 64),
		"ap_abcdefgh_" + strings.Repeat("g", 64), "xx_abcdefgh_" + strings.Repeat("0", 64), tok[:len(tok)-1] + "é", strings.Repeat("_", TokenLen)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		prefix, secret, err := ParseKeyToken(token)
		if err != nil {
			if ErrorCode(err) != EUNAUTHORIZED {
				t.Fatalf("got code %s, want %s: %v", ErrorCode(err), EUNAUTHORIZED, err)
			}
			if len(token) >= 8 && strings.Contains(err.Error(), token) {
				t.Fatalf("the error repeats the token: %v", err)
			}
			return
		}
		if "ap_"+prefix+"_"+secret != token || len(prefix) != tokenPrefixLen || len(secret) != tokenSecretLen {
			t.Fatalf("%q parsed into %q and %q", token, prefix, secret)
		}
		if SecretMatches(secret, HashSecret(secret+"x")) || !SecretMatches(secret, HashSecret(secret)) {
			t.Fatalf("SecretMatches is wrong for %q", secret)
		}
	})
}
