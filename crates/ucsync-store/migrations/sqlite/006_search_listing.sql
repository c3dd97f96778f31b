-- Search's scan walks objects in the order shown, testing each key and
-- name, until a page is full. Through the table it read every row whole
-- (its fields are most of it); this index holds only what the test and the
-- order need, so a page of a common name reads a few dozen pages, not
-- hundreds, and only the page's rows are read whole afterwards.
CREATE INDEX objects_listing ON objects (element_id, object_type, object_key, name);
