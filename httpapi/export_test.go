package httpapi

// SetFastLists turns the hand-written encoding of WP lists and WPs on or
// off, for benchmarks that compare it with encoding/json.
func SetFastLists(s *Server, on bool) { s.fastLists = on }
