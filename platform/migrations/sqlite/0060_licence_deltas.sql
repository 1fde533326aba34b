-- Licence deltas (protocol: `LicenceDelta`): the digest of an app source's accounts, the
-- wrapping sum of their fingerprints as 16 hex digits, kept up to date by every upload and
-- compared with the one a delta names. NULL until the source's next upload: a delta is
-- then refused and the agent sends its snapshot whole, which sets it.
ALTER TABLE sources ADD COLUMN accounts_digest TEXT;
