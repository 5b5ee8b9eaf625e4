#!/usr/bin/env bash
# Riverbed's three PostgreSQL roles for docker-compose.yml (the local stack makes the same
# ones in riverbed/stack/postgres.py). The postgres image runs this once, as its superuser,
# when it initialises an empty volume; it is idempotent, so on an existing volume run it by
# hand: docker compose exec postgres bash /docker-entrypoint-initdb.d/10-riverbed-roles.sh
#
#   owner   owns the database and its public schema; runs `riverbed migrate`
#   app     workers: reads and writes rows (granted per schema by `riverbed migrate`)
#   reader  the dashboard's read API: SELECT only (granted by `riverbed migrate`)
#
# None is a superuser or may create databases or roles. Names and passwords reach SQL only
# as psql variables quoted by format('%I' / '%L'), never pasted into the statement.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-riverbed}" \
    -v db="${POSTGRES_DB:-riverbed}" \
    -v owner="${POSTGRES_OWNER_USER:?}" -v owner_password="${POSTGRES_OWNER_PASSWORD:?}" \
    -v app="${POSTGRES_APP_USER:?}" -v app_password="${POSTGRES_APP_PASSWORD:?}" \
    -v reader="${POSTGRES_READER_USER:?}" -v reader_password="${POSTGRES_READER_PASSWORD:?}" \
    <<'SQL'
select format('create role %I', name)
  from unnest(array[:'owner', :'app', :'reader']) as name
 where not exists (select from pg_roles where rolname = name) \gexec

select format('alter role %I login password %L nosuperuser nocreatedb nocreaterole', name, password)
  from (values (:'owner', :'owner_password'),
               (:'app', :'app_password'),
               (:'reader', :'reader_password')) as r(name, password) \gexec

-- The owner owns the database, hence its public schema (owned by pg_database_owner).
select format('alter database %I owner to %I', :'db', :'owner') \gexec
select format('grant connect on database %I to %I, %I', :'db', :'app', :'reader') \gexec
SQL
