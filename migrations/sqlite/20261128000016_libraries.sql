-- Indicator libraries (指标库) with versions, and department overall performance (部门整体).

-- A project row is either a budget project or a department's overall spending for a year
-- (部门整体): the latter carries the department's budget and its overall indicators, so it is
-- reviewed, monitored and self-evaluated by the same machinery; a workflow names which kind of
-- record its cycles take.
ALTER TABLE projects ADD COLUMN kind TEXT NOT NULL DEFAULT 'project' CHECK (kind IN ('project', 'department'));
CREATE INDEX projects_kind ON projects (kind, fiscal_year);

-- What a department's overall declaration says beyond its indicators: its duties (职能职责)
-- and the year's key work (重点工作), each with the money planned for it.
CREATE TABLE department_overall (
    project_id     INTEGER PRIMARY KEY REFERENCES projects (id),
    department_id  INTEGER NOT NULL REFERENCES departments (id),
    fiscal_year    INTEGER NOT NULL,
    duties         TEXT NOT NULL,
    key_work       TEXT NOT NULL,   -- JSON [{"name", "description", "amount"}]
    UNIQUE (department_id, fiscal_year)
);

-- A library: the sector common libraries (from the indicator plugins' data) and the libraries
-- of single departments (units).
CREATE TABLE indicator_libraries (
    id             INTEGER PRIMARY KEY,
    code           TEXT NOT NULL UNIQUE,
    scope          TEXT NOT NULL CHECK (scope IN ('sector', 'department')),
    sector         TEXT,
    department_id  INTEGER REFERENCES departments (id),
    name           TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    CHECK ((scope = 'sector') = (sector IS NOT NULL)),
    CHECK ((scope = 'department') = (department_id IS NOT NULL))
);

-- The versions of a library. A version's entries never change; a department's proposal waits
-- for the bureau, and the highest published version is the one in use.
CREATE TABLE library_versions (
    library_id     INTEGER NOT NULL REFERENCES indicator_libraries (id),
    version        INTEGER NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('proposed', 'published', 'rejected')),
    entries        TEXT NOT NULL,   -- JSON [LibraryIndicator]
    sha256         TEXT NOT NULL,
    origin         TEXT NOT NULL,
    note           TEXT NOT NULL DEFAULT '',
    proposed_by    INTEGER REFERENCES users (id),
    proposed_ms    INTEGER NOT NULL,
    decided_by     INTEGER REFERENCES users (id),
    decided_ms     INTEGER,
    decision_note  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (library_id, version)
);
CREATE TRIGGER library_versions_entries_kept BEFORE UPDATE OF entries, sha256 ON library_versions
BEGIN
    SELECT RAISE(ABORT, 'a library version''s entries never change; propose a new version');
END;

-- Each indicator carries its project's sector and year, so fill-and-use reads the latest
-- declarations of one indicator in one sector from an index, without visiting every project.
ALTER TABLE indicators ADD COLUMN sector TEXT NOT NULL DEFAULT '';
ALTER TABLE indicators ADD COLUMN fiscal_year INTEGER NOT NULL DEFAULT 0;
UPDATE indicators SET sector = (SELECT p.sector FROM projects p WHERE p.id = indicators.project_id),
                      fiscal_year = (SELECT p.fiscal_year FROM projects p WHERE p.id = indicators.project_id);
CREATE INDEX indicators_sector_name ON indicators (sector, name, project_id);
