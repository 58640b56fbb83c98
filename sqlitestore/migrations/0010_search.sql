-- Text search (agileplus.TextSearcher). search_docs gives every source of
-- text a number, doc, which is the rowid of its words in search_words: an
-- INTEGER PRIMARY KEY keeps it through VACUUM, which may renumber the
-- implicit rowids of wps and features. source_id is the row holding the
-- text, item_id the WP or feature a hit shows: the same today; comments
-- would add rows with their own source_id and their WP's or feature's
-- item_id (and a source column to rank them apart). kind (0 feature, 1
-- WP), name (slug, project key), num (key number, 0 for a feature) and
-- project_id, which never change, rank and filter the hits without a
-- look at the WP or feature until the page is chosen.
CREATE TABLE search_docs (
	doc        INTEGER PRIMARY KEY,
	source_id  TEXT NOT NULL UNIQUE,
	item_id    TEXT NOT NULL,
	kind       INTEGER NOT NULL,
	name       TEXT NOT NULL,
	num        INTEGER NOT NULL,
	project_id TEXT NOT NULL
);

-- The words of each doc: key (WP key or feature slug), title and body (the
-- description). Contentless, since wps and features hold the text; the
-- unicode61 tokenizer without diacritic folding splits words as
-- agileplus.SearchWords does. The prefix indexes make a short last word
-- (a prefix query) an index range.
CREATE VIRTUAL TABLE search_words USING fts5(key, title, body, content='', contentless_delete=1,
	tokenize="unicode61 remove_diacritics 0", prefix='1 2 3');

-- Triggers keep both in step with every write, single or bulk.
CREATE TRIGGER wps_search_insert AFTER INSERT ON wps BEGIN
	INSERT INTO search_docs (source_id, item_id, kind, name, num, project_id)
		VALUES (NEW.id, NEW.id, 1, substr(NEW.key, 1, instr(NEW.key, '-') - 1), NEW.num, NEW.project_id);
	INSERT INTO search_words (rowid, key, title, body) VALUES (last_insert_rowid(), NEW.key, NEW.title, NEW.description);
END;
CREATE TRIGGER wps_search_update AFTER UPDATE OF title, description ON wps
WHEN OLD.title IS NOT NEW.title OR OLD.description IS NOT NEW.description BEGIN
	DELETE FROM search_words WHERE rowid = (SELECT doc FROM search_docs WHERE source_id = NEW.id);
	INSERT INTO search_words (rowid, key, title, body) SELECT doc, NEW.key, NEW.title, NEW.description FROM search_docs WHERE source_id = NEW.id;
END;
CREATE TRIGGER wps_search_delete AFTER DELETE ON wps BEGIN
	DELETE FROM search_words WHERE rowid = (SELECT doc FROM search_docs WHERE source_id = OLD.id);
	DELETE FROM search_docs WHERE source_id = OLD.id;
END;
CREATE TRIGGER features_search_insert AFTER INSERT ON features BEGIN
	INSERT INTO search_docs (source_id, item_id, kind, name, num, project_id) VALUES (NEW.id, NEW.id, 0, NEW.slug, 0, NEW.project_id);
	INSERT INTO search_words (rowid, key, title, body) VALUES (last_insert_rowid(), NEW.slug, NEW.title, NEW.description);
END;
CREATE TRIGGER features_search_update AFTER UPDATE OF title, description ON features
WHEN OLD.title IS NOT NEW.title OR OLD.description IS NOT NEW.description BEGIN
	DELETE FROM search_words WHERE rowid = (SELECT doc FROM search_docs WHERE source_id = NEW.id);
	INSERT INTO search_words (rowid, key, title, body) SELECT doc, NEW.slug, NEW.title, NEW.description FROM search_docs WHERE source_id = NEW.id;
END;
CREATE TRIGGER features_search_delete AFTER DELETE ON features BEGIN
	DELETE FROM search_words WHERE rowid = (SELECT doc FROM search_docs WHERE source_id = OLD.id);
	DELETE FROM search_docs WHERE source_id = OLD.id;
END;

-- What was stored before.
INSERT INTO search_docs (source_id, item_id, kind, name, num, project_id)
	SELECT id, id, 0, slug, 0, project_id FROM features ORDER BY id;
INSERT INTO search_docs (source_id, item_id, kind, name, num, project_id)
	SELECT id, id, 1, substr(key, 1, instr(key, '-') - 1), num, project_id FROM wps ORDER BY id;
INSERT INTO search_words (rowid, key, title, body)
	SELECT d.doc, f.slug, f.title, f.description FROM search_docs d JOIN features f ON f.id = d.source_id;
INSERT INTO search_words (rowid, key, title, body)
	SELECT d.doc, w.key, w.title, w.description FROM search_docs d JOIN wps w ON w.id = d.source_id;
