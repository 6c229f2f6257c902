-- The agent an issue asks for (one the board offers, AUTOPILOT_AGENT/AUTOPILOT_AGENTS; NULL:
-- the board's default), the agent each run was worked by and the session it could be resumed
-- from, and the agents (with versions) each runner has installed, as it reports them
-- ("gemini 0.61.0, codex 0.16.0").
ALTER TABLE issues ADD COLUMN agent TEXT;
ALTER TABLE runs ADD COLUMN agent TEXT;
ALTER TABLE runs ADD COLUMN session_id TEXT;
ALTER TABLE runners ADD COLUMN agents TEXT;
