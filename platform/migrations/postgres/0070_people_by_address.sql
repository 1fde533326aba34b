-- A join of a few accounts (a licence delta, a small HR change) reads only the people who
-- may hold their addresses (`licences::sync::load_people`): by lower-cased work email, plus
-- every person whose work email has anything but ASCII letters, digits and `.@_+-` (which
-- only Rust's normalisation can compare). Both through these indexes, not a scan.
CREATE INDEX seats_current_email ON seats_current (source_id, lower(work_email));
CREATE INDEX seats_current_unusual_email ON seats_current (source_id)
    WHERE lower(work_email) ~ '[^a-z0-9.@_+-]';
