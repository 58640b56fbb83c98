package agileplus

import "regexp"

// The http(s) URLs the API takes (a pull request's, a webhook's), as one
// grammar that the OpenAPI document declares and the server checks: a
// scheme, a host name, IPv4 address or bracketed IPv6 address, an optional port from 1 to 65535, and a
// path and query of URL characters, percent escapes well formed. It has no
// credentials and no spaces, and net/url parses whatever matches it.
const (
	urlStart = `^[Hh][Tt][Tt][Pp][Ss]?://` +
		`([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[` + ipv6 + `(%25[A-Za-z0-9._~-]+)?\])` +
		`(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?` +
		`(/([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?` +
		`(\?([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?`
	h16   = `[0-9A-Fa-f]{1,4}`
	octet = `(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])`
	ipv4  = octet + `(\.` + octet + `){3}`
	// ipv6 is an IPv6 address in its usual forms (RFC 4291 2.2), the last
	// 32 bits perhaps as IPv4.
	ipv6 = `((` + h16 + `:){7}` + h16 + `|(` + h16 + `:){1,7}:|(` + h16 + `:){1,6}:` + h16 +
		`|(` + h16 + `:){1,5}(:` + h16 + `){1,2}|(` + h16 + `:){1,4}(:` + h16 + `){1,3}|(` + h16 + `:){1,3}(:` + h16 + `){1,4}` +
		`|(` + h16 + `:){1,2}(:` + h16 + `){1,5}|` + h16 + `:(:` + h16 + `){1,6}|:((:` + h16 + `){1,7}|:)` +
		`|(` + h16 + `:){6}` + ipv4 + `|::(` + h16 + `:){0,5}` + ipv4 + `|` + h16 + `::(` + h16 + `:){0,4}` + ipv4 +
		`|(` + h16 + `:){2}:(` + h16 + `:){0,3}` + ipv4 + `|(` + h16 + `:){3}:(` + h16 + `:){0,2}` + ipv4 +
		`|(` + h16 + `:){4}:(` + h16 + `:)?` + ipv4 + `|(` + h16 + `:){5}:` + ipv4 + `)`
	// PullRequestURLPattern is a pull request's URL; it may have a fragment.
	PullRequestURLPattern = urlStart + `(#([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$`
	// WebhookURLPattern is a webhook's URL: no fragment, which a POST
	// would not send.
	WebhookURLPattern = urlStart + `$`
)

var (
	pullRequestURLRE = regexp.MustCompile(PullRequestURLPattern)
	webhookURLRE     = regexp.MustCompile(WebhookURLPattern)
)

// IsWebhookURL reports whether u matches WebhookURLPattern.
func IsWebhookURL(u string) bool { return webhookURLRE.MatchString(u) }
