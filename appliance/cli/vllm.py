"""`codemoat vllm replica N`: become vLLM replica N of the configured engine (what codemoat-vllm@N.service runs
when engine.vllm.supervised_by = "systemd"), with the command line and GPU share the gateway's own supervisor
would use."""

from __future__ import annotations

import os

import typer

from appliance.errors import ConfigError

vllm_app = typer.Typer(help="vLLM replicas that systemd starts.", no_args_is_help=True)


@vllm_app.command("replica")
def replica(
    ctx: typer.Context,
    index: int = typer.Argument(..., min=0, help="The replica: it listens on engine.vllm.base_port + INDEX."),
    dry_run: bool = typer.Option(
        False, "--print", help="Print the command and its GPU share; start nothing."
    ),
) -> None:
    """Replace this process with vLLM replica INDEX (systemd supervises it, the gateway routes to it)."""
    from appliance.engines.vllm_supervisor import build_command, gpu_share

    engine = ctx.obj.engine
    settings = engine.vllm
    if engine.kind != "vllm":
        raise ConfigError(f"engine.kind is {engine.kind!r}: there are vLLM replicas only when it is 'vllm'")
    if settings.supervised_by != "systemd":
        raise ConfigError(
            'engine.vllm.supervised_by is "gateway": the gateway starts its replicas itself; set it to '
            '"systemd" to run them as codemoat-vllm@N.service'
        )
    if index >= settings.replicas:
        raise ConfigError(f"replica {index} is not configured: engine.vllm.replicas is {settings.replicas}")
    port = settings.base_port + index
    command = build_command(settings, model_id=engine.served_model_id(), replica=index, port=port)
    env = {**os.environ, **settings.env}
    share = gpu_share(settings, index)
    if share is not None:
        env["CUDA_VISIBLE_DEVICES"] = share
    if dry_run:
        print(
            f"CUDA_VISIBLE_DEVICES={share}" if share is not None else "CUDA_VISIBLE_DEVICES unset (all GPUs)"
        )
        print(" ".join(command))
        return
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        raise ConfigError(f"cannot start {command[0]!r}: {exc.strerror or exc}") from None


def register(app: typer.Typer) -> None:
    app.add_typer(vllm_app, name="vllm")
