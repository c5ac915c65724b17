-- The classifiers of triage, one row each: the record as triage writes it (the same JSON as
-- a file of the files store) and its version, the compare-and-swap key of every update.
CREATE TABLE triage_classifiers (
    classifier_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL CHECK (version > 0),
    created_at TEXT NOT NULL,
    record JSONB NOT NULL
);

-- Listing answers in creation order, as the files store does.
CREATE INDEX triage_classifiers_created ON triage_classifiers (created_at, classifier_id);
