-- Rate limits that hold across every server of a board: requests counted per bucket (say
-- "feedback" or "feedback:203.0.113.9") per fixed window, in the database they share.
CREATE TABLE rate_windows (
    bucket       TEXT   NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
