"""The price tables travel inside the wheel and are found there, not only in a checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT

from tokenroute.prices.table import shipped_dir


def test_editable_install_finds_the_repo_tables():
    assert shipped_dir() == ROOT / "pricing"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    builder = pytest.importorskip("hatchling.builders.wheel")
    out = tmp_path_factory.mktemp("dist")
    return next(
        iter(builder.WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"]))
    )


def test_wheel_contains_every_price_table(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tables = sorted(p.name for p in (ROOT / "pricing").glob("*.yaml"))
    assert tables and all(f"tokenroute/pricing/{name}" in names for name in tables)


def test_wheel_contains_the_policy_and_the_labelled_tasks(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert (
        "tokenroute/advisor/data/policy.yaml" in names
        and "tokenroute/advisor/data/tasks.jsonl" in names
    )


def test_installed_wheel_loads_its_own_tables(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site), "TOKENROUTE_HOME": str(tmp_path / "home")}
    program = (
        "import tokenroute.prices.table as p, json, sys; "
        "print(json.dumps(str(p.shipped_dir()))); "
        "from tokenroute.cli.entry import main; sys.argv = ['tokenroute', 'prices', '--json']; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    first, _, rest = done.stdout.partition("\n")
    assert json.loads(first) == str(site / "tokenroute" / "pricing")
    assert len(json.loads(rest)["models"]) > 40
