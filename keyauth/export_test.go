package keyauth

// CacheSize is how many entries the cache holds, known and unknown.
func CacheSize(a *Authenticator) int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.cached) + len(a.missing)
}
