-- How many objects each element holds per type, kept by the database as
-- objects are written, so that a list of every element with its counts
-- reads a few rows instead of counting a million. Objects are written by
-- upserts (an update fires no insert trigger) and plain deletes; an
-- element's removal deletes its objects by cascade, which fires the delete
-- trigger, and then its counts by cascade.
CREATE TABLE object_counts (
    element_id  INTEGER NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    object_type TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (element_id, object_type)
) WITHOUT ROWID;

INSERT INTO object_counts (element_id, object_type, n)
    SELECT element_id, object_type, count(*) FROM objects GROUP BY element_id, object_type;

CREATE TRIGGER objects_counted_in AFTER INSERT ON objects BEGIN
    INSERT INTO object_counts (element_id, object_type, n)
        VALUES (NEW.element_id, NEW.object_type, 1)
        ON CONFLICT (element_id, object_type) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER objects_counted_out AFTER DELETE ON objects BEGIN
    UPDATE object_counts SET n = n - 1
        WHERE element_id = OLD.element_id AND object_type = OLD.object_type;
END;

-- An element's newest finished job (its last sync, as lists of elements
-- show it) is the first of this index's entries for the element, read
-- backwards, that ran and is no unapplied preview.
CREATE INDEX jobs_finished ON jobs (element, finished_at, id)
    WHERE state IN ('succeeded', 'failed', 'stopped');
