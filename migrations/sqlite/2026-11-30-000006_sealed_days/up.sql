-- A closed, sealed day never changes or disappears: the seal signs its entries and last hash.
CREATE TRIGGER business_days_closed_stays_closed BEFORE UPDATE ON business_days
WHEN OLD.status = 'closed'
BEGIN SELECT RAISE(ABORT, 'a closed day cannot change'); END;
CREATE TRIGGER business_days_no_delete BEFORE DELETE ON business_days
BEGIN SELECT RAISE(ABORT, 'business days are never removed'); END;
