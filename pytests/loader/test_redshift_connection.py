"""How the loader reaches Redshift from a dbt-redshift target (the same keys and defaults as dbt-redshift), and
the literals of its one unbound statement. The connector itself runs against the PostgreSQL stand-in in
pytests/warehouses/test_redshift_loader.py."""

from __future__ import annotations

import datetime as dt

import pytest

from posthog_loader.dbt import Target
from posthog_loader.errors import ConfigError
from posthog_loader.warehouse.redshift import connect_arguments, inline_params, literal

BASE = {"type": "redshift", "host": "examplecluster.abc123.us-east-1.redshift.amazonaws.com"}


def _target(**settings: object) -> Target:
    return Target(profile="p", name="redshift", type="redshift", settings={**BASE, **settings})


def test_password_method_is_dbt_redshifts_default():
    arguments = connect_arguments(_target(user="loader", password="s3cret", dbname="analytics"))

    assert arguments["user"] == "loader"
    assert arguments["password"] == "s3cret"
    assert arguments["database"] == "analytics"
    assert arguments["port"] == 5439
    # dbt-redshift's default sslmode (prefer) verifies the server's CA
    assert arguments["ssl"] is True
    assert arguments["sslmode"] == "verify-ca"
    assert "iam" not in arguments


def test_sslmode_disable_connects_without_tls():
    arguments = connect_arguments(
        _target(user="u", password="p", dbname="d", port="5440", sslmode="disable")
    )

    assert arguments["ssl"] is False
    assert "sslmode" not in arguments
    assert arguments["port"] == 5440


def test_iam_method_asks_for_temporary_credentials_as_the_db_user():
    arguments = connect_arguments(
        _target(
            method="iam", user="loader", dbname="d", cluster_id="examplecluster",
            region="us-east-1", iam_profile="analytics", db_groups=["transformers"],
        )
    )  # fmt: skip

    assert arguments["iam"] is True
    assert arguments["db_user"] == "loader"
    assert arguments["cluster_identifier"] == "examplecluster"
    assert arguments["profile"] == "analytics"
    assert arguments["db_groups"] == ["transformers"]
    assert arguments["password"] == ""


def test_iam_on_serverless_names_the_workgroup_not_a_cluster():
    arguments = connect_arguments(
        _target(
            method="iam_role",
            host="default-wg.123456789012.us-east-1.redshift-serverless.amazonaws.com",
            dbname="dev",
            serverless_work_group="default-wg",
        )
    )

    assert arguments["is_serverless"] is True
    assert arguments["serverless_work_group"] == "default-wg"
    assert "cluster_identifier" not in arguments


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"user": "u", "dbname": "d"}, "password"),
        ({"password": "p", "user": "u"}, "dbname"),
        ({"method": "iam", "user": "u", "dbname": "d"}, "cluster_id"),
        ({"method": "okta", "dbname": "d"}, "database, iam and iam_role"),
        ({"user": "u", "password": "p", "dbname": "d", "sslmode": "strict"}, "sslmode"),
        ({"user": "u", "password": "p", "dbname": "d", "port": "fivefour"}, "port"),
    ],
)
def test_an_incomplete_target_names_the_setting_to_fix(settings, names):
    with pytest.raises(ConfigError, match=names):
        connect_arguments(_target(**settings))


def test_a_password_never_appears_in_the_error_for_another_setting():
    with pytest.raises(ConfigError) as raised:
        connect_arguments(_target(user="u", password="hunter2-secret", dbname="d", port="x"))

    assert "hunter2-secret" not in str(raised.value)


def test_literals_escape_as_redshift_reads_them():
    assert literal("it's a \\ path") == "'it''s a \\\\ path'"
    assert literal(None) == "null"
    assert literal(True) == "true"
    assert literal(12) == "12"
    assert literal(dt.datetime(2024, 5, 1, 12, 0, 0, 5)) == (
        "cast('2024-05-01 12:00:00.000005' as timestamp)"
    )
    aware = dt.datetime(2024, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert literal(aware) == "cast('2024-05-01 12:00:00' as timestamp)"


def test_inline_params_fills_only_named_placeholders():
    sql = "select * from t where a = %(a)s and b like '%x' and c = %(c)s"

    assert inline_params(sql, {"a": "o'k", "c": 3}) == (
        "select * from t where a = 'o''k' and b like '%x' and c = 3"
    )
