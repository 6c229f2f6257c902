-- Each window remembers its own length, so clean-up forgets a window only once it has
-- ended: a day's feedback count survives the hourly sweep that clears minute windows.
ALTER TABLE rate_windows ADD COLUMN window_ms BIGINT NOT NULL DEFAULT 60000;
