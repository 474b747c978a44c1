"""Development sessions of the mmh workspace.

Run ``uv run nox -l`` to list them. The test, lint and docs sessions run inside the
workspace environment that ``uv`` keeps in ``.venv``; ``build`` builds every package's
wheel and installs each one alone into a fresh virtual environment.
"""

from __future__ import annotations

import pathlib
import shutil
import tempfile

import nox

ROOT = pathlib.Path(__file__).parent
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests"]


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


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check, and the lock file check."""
    session.run("uv", "lock", "--check", external=True)
    session.run("uv", "run", "--frozen", "ruff", "check", ".", external=True)
    session.run("uv", "run", "--frozen", "ruff", "format", "--check", ".", external=True)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with ``--strict``."""
    session.run(
        "uv", "run", "--frozen", "--group", "docs", "mkdocs", "build", "--strict", external=True
    )


@nox.session
def build(session: nox.Session) -> None:
    """Build each package's wheel, then install and import it alone in a clean venv."""
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("uv", "build", "--all-packages", "--wheel", "-o", str(dist), external=True)
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
