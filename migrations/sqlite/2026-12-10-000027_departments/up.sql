-- Departments and their windows as master data (issue 20 item 2): the centre's departments
-- (执收部门) and counter windows had no names anywhere; a payment could name any string. Now
-- a payment's department and window must be known, and every page shows their names.
CREATE TABLE departments (
    code       TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    name_en    TEXT,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL
);

-- A window belongs to one department; the same window code may be used by several.
CREATE TABLE department_windows (
    department TEXT NOT NULL REFERENCES departments (code),
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    name_en    TEXT,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (department, code)
);

-- What is already in use stays known: every department and window named by a payment or a fee
-- item becomes master data, its code standing in for its name until an admin gives it one.
INSERT INTO departments (code, name, name_en, created_at, created_by)
SELECT code, code, NULL, CURRENT_TIMESTAMP, 'migration'
FROM (SELECT department AS code FROM payments
      UNION SELECT department FROM fee_items) used;

INSERT INTO department_windows (department, code, name, name_en, created_at, created_by)
SELECT DISTINCT department, window_code, window_code, NULL, CURRENT_TIMESTAMP, 'migration'
FROM payments;
