//! The seat-usage engine: pure functions from people, job roles, policy and "today" to seat
//! records, a summary and data-quality findings. No I/O.
