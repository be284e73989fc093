"""How commands fail: one line on stderr and a known exit code, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import typer

from roost.core.errors import ConfigError, RoostError

EXIT_ERROR = 1
EXIT_CONFIG = 2  # the same code as a usage error: the fix is in the settings, not a retry
EXIT_NOT_RUNNING = 3  # LSB init-script convention for `status`
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    typer.echo(f"roost: {message}", err=True)
    raise typer.Exit(code)


def config_failure(error: ConfigError) -> NoReturn:
    fail(f"config error: {error.message}", EXIT_CONFIG)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so the errors a user can cause are reported, not dumped."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            config_failure(exc)
        except RoostError as exc:
            fail(exc.message)
        except OSError as exc:  # unwritable home, full disk, port in use: the OS says why
            fail(str(exc))
        except KeyboardInterrupt:
            typer.echo("", err=True)  # end the line the ^C was echoed on
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper
