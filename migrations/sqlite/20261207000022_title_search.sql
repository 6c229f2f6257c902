-- A search under 3 characters looks in titles only, and no trigram index serves it: it reads
-- every title. From this index of (status, title) it reads the titles alone, not each row
-- with its body (about 10 ms at 100,000 issues instead of 150).
CREATE INDEX issues_by_title ON issues (status, title);
