-- The agent cache of a serving process (crates/store/src/cache.rs) hears of
-- its own writes directly; another process writing the same file (the CLI:
-- admin commands, imports) bumps this counter in each of its write
-- transactions, and the server, seeing it move (it reads it at most every
-- millisecond), forgets everything it cached.
CREATE TABLE cache_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO cache_epoch (id, n) VALUES (1, 0);
