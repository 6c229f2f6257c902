-- How many turns the agent took in a run, as the CLI reports it (the effort shown per issue).
ALTER TABLE runs ADD COLUMN num_turns BIGINT;
