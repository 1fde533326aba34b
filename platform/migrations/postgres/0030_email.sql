-- Scheduled reports by email: who gets which digest and when it is next due, and every
-- message queued, with its attempts and outcome.
--
-- A digest is claimed by moving its subscription's next_due forward with a compare-and-set
-- (UPDATE ... WHERE next_due = the value read) in the transaction that queues the send, so
-- two platform processes never queue the same digest. A queued send is claimed the same way
-- (status 'queued' -> 'sending'); a 'sending' row whose claim is old (a process died) is
-- claimed again.
CREATE TABLE IF NOT EXISTS email_subscriptions (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    frequency TEXT NOT NULL,
    next_due TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (address, frequency)
);

CREATE INDEX IF NOT EXISTS email_subscriptions_due ON email_subscriptions (next_due);

-- No foreign key to the subscription: removing one keeps the record of what was sent.
CREATE TABLE IF NOT EXISTS email_sends (
    id TEXT PRIMARY KEY,
    subscription_id TEXT,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    period_start TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    claimed_at TEXT,
    finished_at TEXT
);

CREATE INDEX IF NOT EXISTS email_sends_status ON email_sends (status, created_at);
