"""`edgeslm` command line: parsing and presentation only; the work lives in pipeline/, verify/, ...

Errors print `Error: ...` and `Hint: ...` on stderr and exit with the error's code
(2 user error, 3 unsupported, 4 verification failed, 5 environment, 70 internal); a traceback only with --debug.
"""

from __future__ import annotations

import json
import signal
import sys

import click

from edgeslm import __version__
from edgeslm.errors import EdgeSLMError, InternalError, as_environment_error


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every clean-up (staging folders, locks) runs the same way."""


def _on_sigterm(signum, frame):
    raise Terminated()


class EdgeGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EdgeSLMError as err:
            report(err, ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt as exc:
            click.echo("Interrupted: nothing was published (partial work is removed).", err=True)
            sys.exit(143 if isinstance(exc, Terminated) else 130)
        except Exception as exc:  # a bug: say so, with the way to report it
            if ctx.obj and ctx.obj.get("debug"):
                raise
            if (environment := as_environment_error(exc)) is not None:  # disk full, read-only: not a bug
                report(environment, ctx)
            report(InternalError(f"unexpected {type(exc).__name__}: {exc}",
                                 hint="This is a bug in edgeslm. Rerun with --debug and report the traceback."), ctx)


def report(err: EdgeSLMError, ctx) -> None:
    if ctx.obj and ctx.obj.get("debug"):
        import traceback
        traceback.print_exc()
    if ctx.obj and ctx.obj.get("json"):
        click.echo(json.dumps({"ok": False, "error": err.to_dict()}, default=str))
    click.secho(f"Error: {err.message}", fg="red", err=True)
    if err.hint:
        click.echo(f"Hint: {err.hint}", err=True)
    sys.exit(err.exit_code)


@click.group(cls=EdgeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgeslm")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON on stdout.")
@click.pass_context
def cli(ctx, debug: bool, as_json: bool):
    """Put small healthcare language models on phones, verified against the full-precision model.

    \b
    Examples:
      edgeslm export --target android                 # the embedded SmolLM2 default -> ./out
      edgeslm export --model ./BioGPT --quant int8 -o biogpt-int8
      edgeslm export --model model.Q4_0.gguf --target linux -o bundle
      edgeslm run out --prompt "What are the symptoms of anemia?"
      edgeslm verify out
      edgeslm list models
    """
    ctx.ensure_object(dict)
    ctx.obj.update(debug=debug, json=as_json)


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    register_commands()
    cli(prog_name="edgeslm")


def register_commands() -> click.Group:
    """The group with every command on it (idempotent): what `main` runs, and what tests invoke in-process."""
    for command in all_commands():
        if command.name not in cli.commands:
            cli.add_command(command)
    return cli


def all_commands() -> list:
    from edgeslm.cli import (build_runner_cmd, compare_cmd, export_cmd, keygen_cmd, list_cmd, plan_cmd, profile_cmd,
                             report_cmd, run_cmd, sign_cmd, verify_cmd)

    return [m.command for m in (export_cmd, run_cmd, verify_cmd, compare_cmd, profile_cmd, report_cmd, plan_cmd,
                                list_cmd, keygen_cmd, sign_cmd, build_runner_cmd)]
