"""The secrets the suite uses, and the check that none reaches any output.

Every password or token a test hands the ledger is one of TEST_SECRETS, so that
conftest.py can fail any test in whose output one appears: what pytest captured (stdout,
stderr, logging), what a test read with ``capfd``/``capsys``, what ``subprocess``
returned from ``communicate()``/``run()``, and every line an etcd Agent sent back. The
product's promise is that no message ever holds a password or token, whatever a server
or the user typed; this holds the whole suite to it, not only the tests that look.
"""

from __future__ import annotations

#: Long and odd enough never to appear by chance in any output.
TEST_SECRETS = (
    "pw-Zk4q9-ledger-secret",
    "tok-9Qz7-LEDGER-TOKEN",
    "ifmpw",  # the etcd tier's user, tests/etcd
    "rootpw",
    "s3cret",  # tests/unit/test_ledger.py, tests/unit/test_ledger_postgres.py
    "super-secret-pw",  # the PostgreSQL tier's superuser, tests/support/postgres.py
    "ledger-secret-pw",  # its ledger role
    "reader-pw",  # tests/postgres: a role without INSERT, a wrong password, on argv
    "wrong-pw-42",
    "hunter2-pw",
    "pw-on-argv",
)

#: What the output of the test now running showed of them (filled by conftest's hooks).
seen: list[str] = []


def leaks(text: object) -> list[str]:
    """The test secrets in ``text`` (str or bytes, anything else is ignored)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return []
    return [s for s in TEST_SECRETS if s in text]


def check(text: object, where: str) -> None:
    """Record a leak in ``text`` for the running test (failing it after its phase)."""
    for s in leaks(text):
        seen.append(f"{s!r} in {where}: {str(text)[:300]!r}")
