-- Indexes for the licence pages at 100,000 people and 300,000 licences (issue 12, section
-- 6; BENCHMARKS.md "Platform: licences"). Keep in step with the other backend's file.

-- Reclaim filters by manager and by department (`COALESCE(h.department, '') = ...`, the
-- expression exactly as the query writes it).
CREATE INDEX seats_current_manager ON seats_current (source_id, manager_id);
CREATE INDEX seats_current_department ON seats_current (source_id, (COALESCE(department, '')));

-- Reclaim's default order (oldest `since` first, then the primary key): the first page
-- is read in index order and stops at the limit instead of sorting every reclaimable seat.
CREATE INDEX licences_current_since
    ON licences_current ((COALESCE(since, '9999-12-31')), source_id, account_id, pool_id);

-- The counts per source, pool and state (Overview, Applications, the licence report) are
-- read from this index alone; lookups by (source_id, state) still use its prefix.
DROP INDEX licences_current_state;
CREATE INDEX licences_current_state ON licences_current (source_id, state, pool_id);
