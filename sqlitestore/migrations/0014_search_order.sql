-- Search walks the items in ranked key order (kind, name, num) when a
-- query matches many of them, and stops at the page.
CREATE INDEX search_docs_order ON search_docs (kind, name, num);
