#!/bin/sh
# Start the MLflow server against the `mlflow` database; the URL is built from the environment so
# the password never appears in the compose file. Binds 0.0.0.0 *inside* the container only;
# docker-compose.yml publishes the port on 127.0.0.1.
set -eu
: "${POSTGRES_HOST:=postgres}" "${POSTGRES_PORT:=5432}"
: "${MLFLOW_DB_USER:=mlflow}" "${MLFLOW_DB_PASSWORD:=mlflow}" "${MLFLOW_DB_NAME:=mlflow}"
exec mlflow server \
  --backend-store-uri "postgresql+psycopg://${MLFLOW_DB_USER}:${MLFLOW_DB_PASSWORD}@${POSTGRES_HOST}:${POSTGRES_PORT}/${MLFLOW_DB_NAME}" \
  --serve-artifacts \
  --artifacts-destination /mlflow/artifacts \
  --host 0.0.0.0 --port 5000 \
  --allowed-hosts "mlflow,mlflow:5000,localhost,localhost:*,127.0.0.1,127.0.0.1:*" \
  --workers "${MLFLOW_WORKERS:-2}"
