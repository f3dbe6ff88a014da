#!/bin/sh
# A job run by `if-master --ledger ...` that writes into PostgreSQL only while no later
# run has written: the row keeps the fencing token of the run that wrote it last, and an
# older token changes nothing. A run that stalled (GC pause, frozen VM, slow disk) past a
# later slot's run then cannot overwrite the newer result.
#
#   CREATE TABLE nightly_report (name text PRIMARY KEY, fencing_token bigint NOT NULL
#                                DEFAULT 0, slot text, body text);
#   INSERT INTO nightly_report (name) VALUES ('nightly');
#
# Connection settings come from libpq's environment (PGHOST, PGDATABASE, PGUSER, ...).
set -eu
: "${IF_MASTER_FENCING_TOKEN:?run me under if-master --ledger}"
rows=$(psql -X -q -t -A -v ON_ERROR_STOP=1 \
    -v token="$IF_MASTER_FENCING_TOKEN" -v slot="$IF_MASTER_SLOT" <<'SQL'
WITH done AS (
    UPDATE nightly_report
       SET fencing_token = :token, slot = :'slot', body = 'report for ' || :'slot'
     WHERE name = 'nightly' AND fencing_token < :token
    RETURNING 1
)
SELECT count(*) FROM done;
SQL
)
if [ "$rows" != 1 ]; then
    echo "stale run (fencing token $IF_MASTER_FENCING_TOKEN): a later run wrote; nothing changed" >&2
    exit 75
fi
