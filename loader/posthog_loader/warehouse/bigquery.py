"""BigQuery connector: query results stream through the Storage Read API, or REST pages."""

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import pyarrow as pa
from google.api_core import exceptions as google_errors
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_errors
from google.cloud import bigquery

from posthog_loader.dbt import Target
from posthog_loader.errors import ConfigError, NotBuiltError, WarehouseError
from posthog_loader.warehouse.base import Dialect, Params, Statement, Warehouse


class BigQueryDialect(Dialect):
    name = "bigquery"
    text_type = "string"
    integer_type = "int64"

    def param(self, name: str) -> str:
        return f"@{name}"

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "\\`") + "`"

    def truncate(self, grain: str, column: str) -> str:
        return f"timestamp_trunc({column}, {grain})"

    def json_rows(self, param: str, fields: Sequence[str], timestamps: Collection[str]) -> str:
        columns = ", ".join(
            f"timestamp(json_value(json_row, '$.{name}')) as {name}"
            if name in timestamps
            else f"json_value(json_row, '$.{name}') as {name}"
            for name in fields
        )
        return f"select {columns} from unnest(json_query_array({self.param(param)})) as json_row"


def _credentials(target: Target) -> Any:
    settings = target.settings
    method = settings.get("method", "oauth")
    try:
        if method == "oauth":
            import google.auth

            credentials, _ = google.auth.default(
                scopes=["https://www.googleapis.com/auth/bigquery"]
            )
            return credentials
        if method == "service-account":
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_file(settings["keyfile"])
        if method == "service-account-json":
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_info(settings["keyfile_json"])
        if method == "oauth-secrets":
            from google.oauth2.credentials import Credentials

            return Credentials(
                token=settings.get("token"),
                refresh_token=settings.get("refresh_token"),
                client_id=settings.get("client_id"),
                client_secret=settings.get("client_secret"),
                token_uri=settings.get("token_uri"),
            )
    except KeyError as missing:
        raise ConfigError(
            f"Target '{target.name}' (bigquery, method {method}) needs `{missing.args[0]}:`."
        ) from None
    except (auth_errors.GoogleAuthError, OSError, ValueError) as error:
        raise ConfigError(
            f"Target '{target.name}' (bigquery): cannot load credentials for method {method}: "
            f"{error}"
        ) from None
    raise ConfigError(
        f"Target '{target.name}' (bigquery) has method {method!r}; the loader supports oauth, "
        "service-account, service-account-json and oauth-secrets."
    )


def _query_parameter(name: str, value: object) -> bigquery.ScalarQueryParameter:
    if isinstance(value, bool):
        return bigquery.ScalarQueryParameter(name, "BOOL", value)
    if isinstance(value, int):
        return bigquery.ScalarQueryParameter(name, "INT64", value)
    if isinstance(value, float):
        return bigquery.ScalarQueryParameter(name, "FLOAT64", value)
    if isinstance(value, dt.datetime):
        # The loader's timestamps are naive UTC.
        return bigquery.ScalarQueryParameter(name, "TIMESTAMP", value.replace(tzinfo=dt.UTC))
    return bigquery.ScalarQueryParameter(name, "STRING", value)


class BigQueryWarehouse(Warehouse):
    dialect = BigQueryDialect()
    # BigQuery DML is slow and rate limited per table: checkpoint less often.
    checkpoint_interval = 10.0

    def __init__(self, target: Target) -> None:
        settings = target.settings
        self._target = target
        self._project = settings.get("project") or settings.get("database")
        self._dataset = settings.get("dataset") or settings.get("schema")
        if not self._project or not self._dataset:
            raise ConfigError(f"Target '{target.name}' (bigquery) needs `project:` and `dataset:`.")
        self._location = settings.get("location")
        credentials = _credentials(target)
        endpoint = settings.get("api_endpoint")
        self._client = bigquery.Client(
            project=settings.get("execution_project") or self._project,
            credentials=credentials,
            location=self._location,
            client_options=ClientOptions(api_endpoint=endpoint) if endpoint else None,
        )
        # The Storage Read API needs its own gRPC endpoint; with a custom REST endpoint
        # (an emulator) the loader reads REST pages instead.
        self._storage_client = None if endpoint else self._make_storage_client(credentials)

    @staticmethod
    def _make_storage_client(credentials: Any) -> Any:
        try:
            from google.cloud import bigquery_storage
        except ImportError:
            return None
        return bigquery_storage.BigQueryReadClient(credentials=credentials)

    @property
    def default_location(self) -> tuple[str | None, str]:
        return self._project, self._dataset

    def _translate(self, error: Exception) -> WarehouseError:
        if isinstance(error, google_errors.NotFound):
            return NotBuiltError(
                f"BigQuery: {error.message}. The contract views are missing in target "
                f"'{self._target.name}': run `dbt build --target {self._target.name}` first."
            )
        return WarehouseError(f"BigQuery: {getattr(error, 'message', error)}")

    def _query(self, sql: str, params: Params) -> bigquery.QueryJob:
        config = bigquery.QueryJobConfig(
            query_parameters=[_query_parameter(name, value) for name, value in params.items()]
        )
        return self._client.query(sql, job_config=config, location=self._location)

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        try:
            rows = self._query(sql, params).result(page_size=batch_rows)
            batches = rows.to_arrow_iterable(bqstorage_client=self._storage_client)
            try:
                first = next(batches, None)
            except google_errors.GoogleAPICallError:
                # Storage Read refused (API disabled, no permission): use REST pages from here
                # on. Nothing was yielded yet, so no row is read twice.
                self._storage_client = None
                rows = self._query(sql, params).result(page_size=batch_rows)
                batches = rows.to_arrow_iterable()
                first = next(batches, None)
            if first is None:
                return
            yield first
            yield from batches
        except (google_errors.GoogleAPIError, auth_errors.GoogleAuthError) as error:
            raise self._translate(error) from None

    def fetch(self, sql: str, params: Params) -> list[tuple]:
        try:
            return [tuple(row.values()) for row in self._query(sql, params).result()]
        except (google_errors.GoogleAPIError, auth_errors.GoogleAuthError) as error:
            raise self._translate(error) from None

    def execute(self, statement: Statement) -> None:
        try:
            self._query(statement.sql, statement.params).result()
        except (google_errors.GoogleAPIError, auth_errors.GoogleAuthError) as error:
            raise self._translate(error) from None

    def run_transaction(self, statements: Sequence[Statement]) -> None:
        params: dict[str, object] = {}
        for statement in statements:
            for name, value in statement.params.items():
                if params.setdefault(name, value) != value:
                    raise ValueError(f"parameter {name} bound to two values in one transaction")
        script = "\n".join(
            ["begin transaction;", *(f"{statement.sql};" for statement in statements), "commit;"]
        )
        try:
            self._query(script, params).result()
        except (google_errors.GoogleAPIError, auth_errors.GoogleAuthError) as error:
            raise self._translate(error) from None

    def column_names(self, database: str | None, schema: str, table: str) -> set[str]:
        try:
            found = self._client.get_table(f"{database or self._project}.{schema}.{table}")
        except google_errors.NotFound:
            return set()
        except google_errors.GoogleAPIError as error:
            raise self._translate(error) from None
        return {column.name.lower() for column in found.schema}

    def close(self) -> None:
        self._client.close()
