#!/bin/sh
# Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d):
# one role and one database for MLflow, one for Optuna. They must be separate databases: both
# tools keep an `alembic_version` table. Passwords come from the environment (.env), never the repo.
set -eu
hint="set it in .env (cp tracking/.env.example .env, then change the passwords)"
: "${MLFLOW_DB_PASSWORD:?$hint}" "${OPTUNA_DB_PASSWORD:?$hint}"
for password in "$POSTGRES_PASSWORD" "$MLFLOW_DB_PASSWORD" "$OPTUNA_DB_PASSWORD"; do
  case "$password" in
    change-me*) echo "error: a password in .env still begins with change-me: replace it" >&2; exit 1 ;;
  esac
done
# the passwords go from the environment into psql variables (\getenv), never onto a command line
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv mlflow_password MLFLOW_DB_PASSWORD
\getenv optuna_password OPTUNA_DB_PASSWORD
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_password';
CREATE ROLE optuna LOGIN PASSWORD :'optuna_password';
CREATE DATABASE mlflow OWNER mlflow;
CREATE DATABASE optuna OWNER optuna;
SQL
