-- Each person's time zone for showing times (an IANA name; NULL is UTC).
ALTER TABLE users ADD COLUMN time_zone TEXT NULL;
