DROP TABLE refund_requests;
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check CHECK (status IN ('requested', 'approved',
    'rejected', 'cancelled'));
ALTER TABLE refunds DROP COLUMN route;
