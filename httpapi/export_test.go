package httpapi

// FastLists switches the hand-written encoding of WP lists, for benchmarks.
var FastLists = &fastLists
