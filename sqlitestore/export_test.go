package sqlitestore

// SetCheckpointPages sets how many pages the writer appends to the WAL
// between checkpoints, for the rest of the test binary's life.
func SetCheckpointPages(n int) { checkpointPages = n }
