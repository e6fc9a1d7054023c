#!/usr/bin/env python3
# A model of the ledger's append path in plain SQLite (WAL, synchronous=FULL, cache 32 MiB), used
# to find why appends slowed as the log grew (docs/BENCHMARKS.md, "Flat appends"): pads a log of
# SIZE entries, then times 20 000 inserts in groups of 5 000 with the event index keyed by
#   id      a unique index on the random event id (the old schema)
#   timeid  a unique index on (event_time, event_id) (the schema now)
#   none    no event index
# History rows take random pack keys unless SEQ=1. EXTRA adds pragmas, PAGE sets page_size.
# Usage: scripts/bench-index-model.py {id|timeid|none} SIZE   (writes t_<mode>_<size>.db here)
import sqlite3, os, time, sys
mode = sys.argv[1]; size = int(sys.argv[2])
path = f"t_{mode}_{size}.db"
for s in ("", "-wal", "-shm"):
    try: os.remove(path+s)
    except FileNotFoundError: pass
c = sqlite3.connect(path, isolation_level=None)
if os.environ.get("PAGE"): c.execute("PRAGMA page_size="+os.environ["PAGE"])
c.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-32768; "+os.environ.get("EXTRA","")+"")
uniq = {"id": "event_id BLOB NOT NULL UNIQUE,", "timeid": "event_id BLOB NOT NULL,", "none": "event_id BLOB NOT NULL,"}[mode]
c.execute(f"CREATE TABLE log_entries (idx INTEGER PRIMARY KEY, {uniq} leaf_hash BLOB NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, event_time INTEGER NOT NULL, entry BLOB NOT NULL) STRICT")
if mode == "timeid":
    c.execute("CREATE UNIQUE INDEX log_entries_time_id ON log_entries (event_time, event_id)")
c.execute("CREATE INDEX log_entries_actor ON log_entries (actor, idx)")
c.execute("CREATE TABLE item_history (item TEXT NOT NULL, entry_idx INTEGER NOT NULL, PRIMARY KEY (item, entry_idx)) STRICT")
t=time.time()
step=100000
for a in range(0,size,step):
    b=min(size,a+step)
    c.execute("BEGIN")
    c.execute(f"WITH RECURSIVE n(i) AS (SELECT {a} UNION ALL SELECT i+1 FROM n WHERE i+1<{b}) INSERT INTO log_entries SELECT i, randomblob(32), randomblob(32), 'verify','4000000000026', i*1000, randomblob(420) FROM n")
    c.execute(f"WITH RECURSIVE n(i) AS (SELECT {a} UNION ALL SELECT i+1 FROM n WHERE i+1<{b}) INSERT INTO item_history SELECT '(01)0400000000000(21)'||hex(randomblob(6)), i FROM n")
    c.execute("COMMIT")
print("pad", time.time()-t, file=sys.stderr)
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
t=time.time()
n=size; base=size*1000
for batch in range(4):
    c.execute("BEGIN IMMEDIATE")
    rows=[(n+i, os.urandom(32), os.urandom(32), 'verify','4000000000033', base+(n+i)*1000, os.urandom(420)) for i in range(5000)]
    c.executemany("INSERT INTO log_entries VALUES (?,?,?,?,?,?,?)", rows)
    c.executemany("INSERT INTO item_history VALUES (?,?)", [((f"(01)0400000000000(21)S{r[0]:09}" if os.environ.get("SEQ") else "(01)0400000000000(21)"+os.urandom(6).hex().upper()), r[0]) for r in rows])
    c.execute("COMMIT")
    n+=5000
el=time.time()-t
print(mode, size, f"{20000/el:.0f} rows/s")
