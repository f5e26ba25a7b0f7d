#!/bin/sh
# First start of an empty PostgreSQL volume (docker-entrypoint-initdb.d): one role per user of
# the server, each with its own password from the environment (.env.production).
#   temporal  owns `temporal` and may create databases: Temporal's auto-setup creates
#             `temporal_visibility` itself, but expects the database named like its user to
#             exist already, and migrates both.
#   secupol   owns the app database `secupol` (Alembic migrates it).
# It runs once: changing a password later is `ALTER ROLE … PASSWORD …` by hand.
set -eu

psql --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set temporal_password="$TEMPORAL_DB_PASSWORD" \
  --set secupol_password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE ROLE secupol LOGIN PASSWORD :'secupol_password';
CREATE DATABASE secupol OWNER secupol;
SQL
