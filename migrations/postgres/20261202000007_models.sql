-- The model an issue asks for (one of AUTOPILOT_MODELS; NULL: the runner's default), and the
-- model each run was given.
ALTER TABLE issues ADD COLUMN model TEXT;
ALTER TABLE runs ADD COLUMN model TEXT;
