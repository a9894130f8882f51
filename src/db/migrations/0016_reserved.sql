-- Placeholder for migration 0016, which another branch (ingest-copy) adds. The migrator wants
-- numbers without gaps, so this branch's 0017 needs a 0016 to run. When the branches meet, this
-- file is deleted in favour of the real 0016 (the migrator refuses two files numbered 0016).
select 1;
