-- dissent: the PostgreSQL role and database of one instance, least privilege.
--
-- Run as the PostgreSQL superuser, with psql (deploy/INSTALL.md):
--   sudo -u postgres psql -f deploy/postgresql/setup.sql
-- Other names (a restore drill, a second instance): add -v role=NAME -v db=NAME.
-- Safe to run again: what exists is kept and its rights are set again.
--
-- The role logs in and owns its database and the schema its tables live in (public),
-- so `dissent init` and `dissent db upgrade` can create and change tables; it is no
-- superuser and cannot create roles or databases. Nobody else may connect. It has no
-- password here: on one host it logs in over the local socket as the system user of the
-- same name (peer); app hosts elsewhere need a password (INSTALL.md, "Several hosts").

\set ON_ERROR_STOP on
\if :{?role}
\else
  \set role dissent
\endif
\if :{?db}
\else
  \set db dissent
\endif

SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'db', :'role', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO :"role";
-- By default every role may connect to a new database and make temporary tables in it.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
-- A commit is on disk before dissent says "received" (invariant 4: nothing is lost),
-- whatever the server's default says. Set for the database, and for the role in it,
-- which a per-role setting elsewhere could not override.
ALTER DATABASE :"db" SET synchronous_commit = on;
ALTER ROLE :"role" IN DATABASE :"db" SET synchronous_commit = on;

\connect :"db"
-- The tables live in public: the role owns it, and no one else may use it. (PostgreSQL
-- 15 gives public to the database owner already; older servers gave it to postgres and
-- let everybody create tables in it.)
ALTER SCHEMA public OWNER TO :"role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
