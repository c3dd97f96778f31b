-- Search's plan for a prefix that many objects match reads each element's
-- matches in key order; an element without a match must cost one probe,
-- not a scan of its objects: the prefix indexes, per element.
CREATE INDEX IF NOT EXISTS objects_element_key_prefix
    ON objects (element_id, lower(object_key COLLATE "default") text_pattern_ops);
CREATE INDEX IF NOT EXISTS objects_element_name_prefix
    ON objects (element_id, lower(name COLLATE "default") text_pattern_ops);
