-- A search under 3 characters looks in titles only, and no trigram index serves it: it reads
-- every title. Kept lowered in a column of their own, they are read without lowering each one
-- on every search (about 30 ms at 100,000 issues instead of 60).
ALTER TABLE issues ADD COLUMN title_lower TEXT GENERATED ALWAYS AS (lower(title)) STORED;
