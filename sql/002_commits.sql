-- Projection: every commit recorded on a tracked ref (from CommitRecorded events).
CREATE TABLE commits (
    source          text        NOT NULL,
    sha             text        NOT NULL,
    parents         text[]      NOT NULL,
    author          text        NOT NULL,
    author_email    text        NOT NULL,
    authored_at     timestamptz NOT NULL,
    committer       text        NOT NULL,
    committed_at    timestamptz NOT NULL,
    subject         text        NOT NULL,
    position        bigint      NOT NULL REFERENCES events (position),
    PRIMARY KEY (source, sha)
);
COMMENT ON TABLE commits IS 'projection of CommitRecorded: every commit gitopsd saw, per source';
