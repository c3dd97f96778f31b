-- Each object's identity digest (see ucsync_core::key_digest), 16 bytes
-- big-endian so that the order of the blobs is the order of the digests.
-- An init loads (digest, hash, type) of every object of an element: the index
-- below holds exactly those, in digest order, so the load reads the index
-- alone, needs no sorting, and can be split into digest ranges read in
-- parallel. ucsync_key_digest() exists only while migrating.
ALTER TABLE objects ADD COLUMN digest BLOB;
UPDATE objects SET digest = ucsync_key_digest(object_type, object_key);
ALTER TABLE staged ADD COLUMN digest BLOB;
UPDATE staged SET digest = ucsync_key_digest(object_type, object_key);
DROP INDEX objects_hashes;
CREATE INDEX objects_digests ON objects (element_id, digest, hash, object_type);
