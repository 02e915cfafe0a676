-- A closed, sealed day never changes or disappears: the seal signs its entries and last hash.
CREATE TRIGGER business_days_closed_stays_closed BEFORE UPDATE ON business_days
FOR EACH ROW WHEN (OLD.status = 'closed')
EXECUTE FUNCTION onecard_append_only('a closed day cannot change');
CREATE TRIGGER business_days_no_delete BEFORE DELETE ON business_days
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('business days are never removed');
