-- Finding open tasks past their deadline (overdue reviews are replaced when the panel says so).
CREATE INDEX tasks_open_due ON tasks (status, due_ms);
