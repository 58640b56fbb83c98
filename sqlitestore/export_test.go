package sqlitestore

// WithCheckpointPages makes a store's writer wake the checkpointer every n
// pages appended to the WAL instead of every defaultCheckpointPages.
func WithCheckpointPages(n int) func(*Config) {
	return func(c *Config) { c.checkpointPages = n }
}

// WithSearchWalking makes Search walk the items in key order for every
// rank of matches, as it does for a rank of many.
func WithSearchWalking() func(*Config) {
	return func(c *Config) { c.searchWalk = true }
}
