DROP INDEX payments_by_date;
CREATE INDEX payments_by_date ON payments (business_date, status, id);
