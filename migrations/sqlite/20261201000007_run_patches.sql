-- What a run that committed changed, kept for review on any server (issue 13): the whole
-- branch against its base, and the run's own commit; each cut at 1 MiB (then truncated).
ALTER TABLE runs ADD COLUMN branch_patch TEXT;
ALTER TABLE runs ADD COLUMN run_patch TEXT;
ALTER TABLE runs ADD COLUMN patch_truncated BOOLEAN NOT NULL DEFAULT FALSE;
