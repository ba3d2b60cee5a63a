-- A panel member may decline a review: the task ends 'declined' and a replacement is drawn.
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN ('open', 'completed', 'cancelled', 'declined'));
