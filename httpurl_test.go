package agileplus

import (
	"net/url"
	"strings"
	"testing"
)

// Whatever the URL grammar takes, net/url parses as an http(s) URL with
// a host and no credentials; what it refuses is refused.
func TestURLPatterns(t *testing.T) {
	for _, u := range []string{
		"http://a", "HTTPS://api.example.com:8443/x/y?q=1&r=%20", "http://10.0.0.1:1/", "http://a.b./p",
		"http://[::1]/", "http://[fe80::1%25eth0]/h", "http://[::ffff:10.0.0.1]/", "http://[64:ff9b::10.0.0.1]/",
		"http://[1:2:3:4:5:6:7:8]:65535/", "http://[1:2:3:4:5::1.2.3.4]/", "http://[1::]/",
	} {
		p, err := url.Parse(u)
		switch {
		case !webhookURLRE.MatchString(u) || !pullRequestURLRE.MatchString(u):
			t.Errorf("%s: refused", u)
		case err != nil || p.Hostname() == "" || p.User != nil || (p.Scheme != "http" && p.Scheme != "https"):
			t.Errorf("%s: the pattern takes it, net/url reads %v, %v", u, p, err)
		}
	}
	for _, u := range []string{
		"", "ftp://a", "http://", "http:// a", "http://a b", "http://u@a/", "http://a:0/", "http://a:65536/", "http://a/%zz",
		"http://[1:2:3]/", "http://[1.2.3.4]/", "http://[1:2:3:4:5:6::1.2.3.4]/", "http://a/\x01", "http://-a/", " http://a",
	} {
		if webhookURLRE.MatchString(u) || pullRequestURLRE.MatchString(u) {
			t.Errorf("%q: taken", u)
		}
	}
	if webhookURLRE.MatchString("http://a/#f") || !pullRequestURLRE.MatchString("http://a/pull/1#issuecomment-2") {
		t.Error("a fragment: a pull request's URL may have one, a webhook's not")
	}
	if strings.Contains(WebhookURLPattern, "(?") {
		t.Error("the pattern uses a Go-only group syntax")
	}
}
