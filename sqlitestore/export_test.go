package sqlitestore

// WithCheckpointPages makes a store's writer wake the checkpointer every n
// pages appended to the WAL instead of every defaultCheckpointPages.
func WithCheckpointPages(n int) func(*Config) {
	return func(c *Config) { c.checkpointPages = n }
}
