-- An init loads every key and content hash of an element: this index holds
-- exactly those, so the load reads the index alone and not the objects' fields.
CREATE INDEX objects_hashes ON objects (element_id, object_type, object_key, hash);
