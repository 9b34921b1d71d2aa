"""The exception tree and the exit codes the CLI promises (listed in the README).

Every expected failure is a `TokenrouteError` carrying the exit code it maps to; the
CLI's error boundary turns it into one line on stderr. Anything else is a bug.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug: an exception we did not expect (traceback with --debug)
    USAGE = 2  # the command line is wrong: unknown option, bad value
    BAD_INPUT = 3  # a file or stdin we were given is unreadable or malformed
    NOT_FOUND = 4  # a model, task or other named thing that does not exist
    LEDGER = 5  # the ledger file is not SQLite, or from a newer tokenroute
    PROVIDER = 6  # the provider failed or refused, after every retry and escalation
    INVALID_ANSWER = 7  # answers came back but none passed --expect/--schema
    OVER_BUDGET = 8  # the run would cost more than --max-cost or a budget allows
    CHECK_FAILED = 9  # `tokenroute doctor` found a problem
    EXPORT = 10  # the collector could not be reached or refused the data (export otlp)
    HUNG_UP = 129  # SIGHUP: the terminal closed
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM: `timeout`, `kill`, a cancelled CI job


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled as Ctrl-C is: a paid attempt is recorded as cancelled.

    A KeyboardInterrupt, so every place that cleans up after Ctrl-C cleans up after these."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class TokenrouteError(Exception):
    """An expected failure with a message that says what to do next."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(TokenrouteError):
    exit_code = ExitCode.USAGE


class BadInputError(TokenrouteError):
    exit_code = ExitCode.BAD_INPUT


class PricingTableError(BadInputError):
    """A price table that cannot be used; `problems` lists every one found."""

    def __init__(self, problems: list[str]) -> None:
        first = problems[0]
        more = len(problems) - 1
        if more:
            first += f" (and {more} more: run 'tokenroute prices check')"
        super().__init__(first)
        self.problems = problems


class UnknownModelError(TokenrouteError):
    exit_code = ExitCode.NOT_FOUND


class NotFoundError(TokenrouteError):
    exit_code = ExitCode.NOT_FOUND


class LedgerError(TokenrouteError):
    exit_code = ExitCode.LEDGER


class ProviderError(TokenrouteError):
    """A provider call that failed. `kind` names the failure for the ledger's error_kind;
    `retryable` says whether trying again may help; `retry_after` is the provider's own
    wait in seconds, when it gave one. The message never holds a key."""

    exit_code = ExitCode.PROVIDER

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class ExportError(TokenrouteError):
    exit_code = ExitCode.EXPORT


class InvalidAnswerError(TokenrouteError):
    exit_code = ExitCode.INVALID_ANSWER


class OverBudgetError(TokenrouteError):
    exit_code = ExitCode.OVER_BUDGET
