-- The state of a pull request's checks, as the runner last read it with `gh` (pending,
-- passing or failing); NULL without a pull request or checks.
ALTER TABLE issues ADD COLUMN pr_checks TEXT;
