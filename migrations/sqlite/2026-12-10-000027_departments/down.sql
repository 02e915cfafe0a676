DROP TABLE department_windows;
DROP TABLE departments;
