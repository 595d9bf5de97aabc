"""Read source files where they lie with DuckDB: Heap Connect's S3 dumps, Heap's one-time export, Amplitude's S3
export. `duckdb_plugin` makes every dbt connection able to (Avro, `s3://`, offline); the landing modules put Heap's
tables where the Heap staging models read them."""
