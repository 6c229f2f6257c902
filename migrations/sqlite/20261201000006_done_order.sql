-- The done column shows the most recently finished first.
CREATE INDEX issues_by_recency ON issues (status, updated_at);
