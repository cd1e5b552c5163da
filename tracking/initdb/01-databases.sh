#!/bin/sh
# Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d):
# one role and one database for MLflow, one for Optuna. They must be separate databases: both
# tools keep an `alembic_version` table. Passwords come from the environment (.env), never the repo.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v mlflow_password="${MLFLOW_DB_PASSWORD:-mlflow}" -v optuna_password="${OPTUNA_DB_PASSWORD:-optuna}" <<'SQL'
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_password';
CREATE ROLE optuna LOGIN PASSWORD :'optuna_password';
CREATE DATABASE mlflow OWNER mlflow;
CREATE DATABASE optuna OWNER optuna;
SQL
