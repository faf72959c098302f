"""Store URLs: the `create_tables` option, and that the options around it still behave."""

from __future__ import annotations

import pytest

from loanledger.domain.errors import DomainError, InvalidStoreURLError
from loanledger.persistence.urls import parse_store_url

PG = "postgresql://ledger:secret@db.example:6543/books"


def test_tables_are_created_by_default() -> None:
    settings = parse_store_url(PG)

    assert settings.kind == "postgresql"
    assert "CREATE_TABLE" not in settings.env  # eventsourcing's default: create them


@pytest.mark.parametrize("value", ["false", "False", "FALSE"])
def test_create_tables_false_tells_eventsourcing_not_to_create_tables(value: str) -> None:
    settings = parse_store_url(f"{PG}?create_tables={value}")

    assert settings.env["CREATE_TABLE"] == "n"


@pytest.mark.parametrize("value", ["true", "True"])
def test_create_tables_true_is_the_default(value: str) -> None:
    settings = parse_store_url(f"{PG}?create_tables={value}")

    assert "CREATE_TABLE" not in settings.env


def test_create_tables_combines_with_schema_in_either_order() -> None:
    first = parse_store_url(f"{PG}?schema=books_2024&create_tables=false")
    second = parse_store_url(f"{PG}?create_tables=false&schema=books_2024")

    for settings in (first, second):
        assert settings.env["POSTGRES_SCHEMA"] == "books_2024"
        assert settings.env["CREATE_TABLE"] == "n"
        assert settings.env["POSTGRES_DBNAME"] == "books"
        assert settings.env["POSTGRES_PORT"] == "6543"
        assert settings.env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "n"


def test_an_empty_create_tables_means_not_given() -> None:
    # parse_qs drops blank values, as it does for `schema=`.
    assert "CREATE_TABLE" not in parse_store_url(f"{PG}?create_tables=").env


@pytest.mark.parametrize("value", ["no", "0", "flase", "n"])
def test_create_tables_other_values_are_refused(value: str) -> None:
    with pytest.raises(InvalidStoreURLError) as refused:
        parse_store_url(f"{PG}?create_tables={value}")

    assert str(refused.value) == f"create_tables {value!r} must be true or false"
    assert isinstance(refused.value, DomainError)


def test_other_options_are_still_refused_and_named() -> None:
    with pytest.raises(InvalidStoreURLError) as refused:
        parse_store_url(f"{PG}?create_tables=false&sslmode=require")

    assert str(refused.value) == (
        "PostgreSQL URL option(s) sslmode are not supported "
        "(only schema, create_tables, connect_timeout)"
    )


def test_connect_timeout_is_ten_seconds_unless_the_url_says() -> None:
    assert parse_store_url(PG).env["POSTGRES_CONNECT_TIMEOUT"] == "10"
    settings = parse_store_url(f"{PG}?connect_timeout=2&schema=books_2024")

    assert settings.env["POSTGRES_CONNECT_TIMEOUT"] == "2"
    assert settings.postgres_connection()["connect_timeout"] == 2


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "soon"])
def test_connect_timeout_must_be_whole_seconds(value: str) -> None:
    with pytest.raises(InvalidStoreURLError) as refused:
        parse_store_url(f"{PG}?connect_timeout={value}")

    assert str(refused.value) == (
        f"connect_timeout {value!r} must be a whole number of seconds, at least 1"
    )


def test_pooled_connections_are_checked_before_use() -> None:
    # After a server restart every pooled connection is dead; checked, they are replaced.
    assert parse_store_url(PG).env["POSTGRES_PRE_PING"] == "y"


def test_schema_is_still_validated() -> None:
    with pytest.raises(InvalidStoreURLError, match="lower-case SQL identifier"):
        parse_store_url(f"{PG}?schema=Books&create_tables=false")


def test_password_is_redacted_with_the_option_present() -> None:
    settings = parse_store_url(f"{PG}?create_tables=false")

    assert settings.redacted_url == (
        "postgresql://ledger:***@db.example:6543/books?create_tables=false"
    )
