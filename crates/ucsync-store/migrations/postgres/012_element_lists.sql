-- How many objects each element holds per type, kept by the database as
-- objects are written, so that a list of every element with its counts
-- reads a few rows instead of counting millions. The triggers run once per
-- statement over the rows it inserted or deleted (an upsert's updated rows
-- are not in its insert's transition table). Every write of an element's
-- objects holds its sync_state row, so two statements never update one
-- element's counts at once.
CREATE TABLE object_counts (
    element_id  bigint NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    object_type text COLLATE "C" NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (element_id, object_type)
);

INSERT INTO object_counts (element_id, object_type, n)
    SELECT element_id, object_type, count(*) FROM objects GROUP BY element_id, object_type;

CREATE FUNCTION objects_counted_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO object_counts AS c (element_id, object_type, n)
        SELECT element_id, object_type, count(*) FROM inserted
        GROUP BY element_id, object_type ORDER BY element_id, object_type
        ON CONFLICT (element_id, object_type) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION objects_counted_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE object_counts c SET n = c.n - d.n
        FROM (SELECT element_id, object_type, count(*) AS n FROM deleted
              GROUP BY element_id, object_type) d
        WHERE c.element_id = d.element_id AND c.object_type = d.object_type;
    RETURN NULL;
END
$$;

CREATE TRIGGER objects_counted_in AFTER INSERT ON objects
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION objects_counted_in();

CREATE TRIGGER objects_counted_out AFTER DELETE ON objects
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION objects_counted_out();

-- An element's newest finished job (its last sync, as lists of elements
-- show it) is the first of this index's entries for the element, read
-- backwards, that ran and is no unapplied preview.
CREATE INDEX jobs_finished ON jobs (element, finished_at, id)
    WHERE state IN ('succeeded', 'failed', 'stopped');
