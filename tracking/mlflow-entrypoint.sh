#!/bin/sh
# Start the MLflow server against the `mlflow` database. The password reaches PostgreSQL through
# libpq's PGPASSWORD in the environment, so it is on no command line (`ps` shows the URL without
# it). Binds 0.0.0.0 *inside* the container only; docker-compose.yml publishes the port on 127.0.0.1.
set -eu
: "${POSTGRES_HOST:=postgres}" "${POSTGRES_PORT:=5432}" "${MLFLOW_DB_USER:=mlflow}" "${MLFLOW_DB_NAME:=mlflow}"
: "${MLFLOW_DB_PASSWORD:?set it in .env (cp tracking/.env.example .env, then change the passwords)}"
case "$MLFLOW_DB_PASSWORD" in
  change-me*) echo "error: MLFLOW_DB_PASSWORD in .env still begins with change-me: replace it" >&2; exit 1 ;;
esac
PGPASSWORD="$MLFLOW_DB_PASSWORD"
export PGPASSWORD
unset MLFLOW_DB_PASSWORD
exec mlflow server \
  --backend-store-uri "postgresql+psycopg://${MLFLOW_DB_USER}@${POSTGRES_HOST}:${POSTGRES_PORT}/${MLFLOW_DB_NAME}" \
  --serve-artifacts \
  --artifacts-destination /mlflow/artifacts \
  --host 0.0.0.0 --port 5000 \
  --allowed-hosts "mlflow,mlflow:5000,localhost,localhost:*,127.0.0.1,127.0.0.1:*" \
  --workers "${MLFLOW_WORKERS:-2}"
