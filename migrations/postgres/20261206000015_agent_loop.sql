-- The agent finishes the job: the question an agent asked (shown on the card while the issue
-- is blocked), plan-first issues and the state of their plan, what the next run continues
-- with (an answer, an approved plan, failing checks, review comments), how many rounds of
-- failing checks the agent has had, each run's kind and whether it resumed its session, and
-- the forge comments already brought into an issue's thread (each once, on every server).
ALTER TABLE issues ADD COLUMN question TEXT;
ALTER TABLE issues ADD COLUMN plan_first BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE issues ADD COLUMN plan_state TEXT;
ALTER TABLE issues ADD COLUMN next_run TEXT;
ALTER TABLE issues ADD COLUMN ci_fix_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'work';
ALTER TABLE runs ADD COLUMN resumed BOOLEAN;
CREATE TABLE forge_imports (
    key TEXT PRIMARY KEY,
    issue_id BIGINT NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX forge_imports_issue ON forge_imports(issue_id);
