// Text search (agileplus.TextSearcher; see search.go): every WorkPackage
// and Feature carries its words, split and lower-cased by the program, as
// search_text (key or slug, title, description) and search_title; this
// index holds search_text split at spaces only, so that it has the same
// words as SQLite's. The program fills in the words of the nodes stored
// before once these statements have run. Comments would get an index of
// their own over their words, their hits shown as their WP or feature.
CREATE FULLTEXT INDEX search_text IF NOT EXISTS FOR (n:WorkPackage|Feature) ON EACH [n.search_text]
OPTIONS {indexConfig: {`fulltext.analyzer`: 'whitespace', `fulltext.eventually_consistent`: false}};
