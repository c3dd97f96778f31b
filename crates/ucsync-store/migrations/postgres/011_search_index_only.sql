-- Search reads each element's matches from its prefix indexes alone
-- (index-only scans), sorts them and reads the rows of one page: the
-- indexes carry the type and key it sorts by, and the column their
-- expression is computed from, without which PostgreSQL reads each row to
-- check the condition.
DROP INDEX IF EXISTS objects_element_key_prefix;
CREATE INDEX objects_element_key_prefix
    ON objects (element_id, lower(object_key COLLATE "default") text_pattern_ops)
    INCLUDE (object_type, object_key);
DROP INDEX IF EXISTS objects_element_name_prefix;
CREATE INDEX objects_element_name_prefix
    ON objects (element_id, lower(name COLLATE "default") text_pattern_ops)
    INCLUDE (object_type, object_key, name);
