-- A settlement file's entry (kind 'settlement', reference 'settlement:<file id>') and a
-- remittance batch's entry (kind 'remittance', reference 'rem_<date>') post at most once, however
-- many runs, acknowledgements or service instances try at the same moment. The use cases guard
-- with a query first; this index is what makes the guard hold across instances.
--
-- Existing data keeps it: only those two use cases write these kinds (people may post by hand
-- only adjustments, appropriations and fee top-ups), each behind its guard; a reversal of such an
-- entry has the kind 'reversal' and is not covered; entries without a reference are not covered
-- (NULLs are distinct). A ledger that the race this closes had already hit fails here (the
-- entries are append-only: a duplicate is a finding for a person, not for a migration); find
-- them with
--   SELECT kind, reference, count(*) FROM ledger_entries
--   WHERE kind IN ('settlement', 'remittance') GROUP BY kind, reference HAVING count(*) > 1;
CREATE UNIQUE INDEX ledger_entries_posted_once ON ledger_entries (kind, reference)
    WHERE kind IN ('settlement', 'remittance');
