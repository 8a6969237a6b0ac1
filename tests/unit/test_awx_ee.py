"""What AWX and ansible-builder read from this repository: collections/requirements.yml, the collection's
meta/execution-environment.yml and the example EE (examples/ee). Offline: `ansible-builder create` only writes the
build context; `ansible-builder introspect` reads the installed collection."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)


def load(path):
    with open(os.path.join(ROOT, path)) as handle:
        return yaml.safe_load(handle)


def run(*args, cwd=None):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The collection artifact, as ansible-galaxy builds it."""
    out = tmp_path_factory.mktemp("build")
    run(os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), ROOT)
    [tarball] = glob.glob(str(out / "azure_backup-remediation-*.tar.gz"))
    return tarball


def test_awx_installs_every_collection_the_playbook_and_the_collection_need():
    awx = {c["name"]: c.get("version") for c in load("collections/requirements.yml")["collections"]}
    local = {c["name"]: c.get("version") for c in load("requirements.yml")["collections"]}
    # The root file (a controller of one's own) and AWX's file name the same collections for the playbook.
    assert local.items() <= awx.items(), (local, awx)
    assert load("galaxy.yml")["dependencies"].items() <= awx.items()
    assert "azure.azcollection" in awx  # the azure_rm inventory source, when sourced from the project


def test_the_artifact_carries_the_ee_metadata_and_not_the_example_or_awx_files(built):
    with tarfile.open(built) as tar:
        names = set(tar.getnames())
    assert {"meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt"} <= names
    assert not [n for n in names if n.startswith(("examples/", "collections/"))], names


def test_introspect_attributes_pywinrm_with_both_extras_and_kerberos_to_this_collection(built, tmp_path):
    cols = tmp_path / "collections"
    run(os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force", "-p", str(cols), built)
    out = run(os.path.join(BIN, "ansible-builder"), "introspect", str(cols))
    data = yaml.safe_load(out.split("\n", 1)[1])
    assert "pywinrm[credssp,kerberos]>=0.4.3  # from collection azure_backup.remediation" in data["python"], out
    assert "krb5-devel [platform:rpm compile]  # from collection azure_backup.remediation" in data["system"], out
    assert "krb5-workstation [platform:rpm]  # from collection azure_backup.remediation" in data["system"], out


def test_ansible_builder_create_writes_the_build_context_of_the_example_ee(built, tmp_path):
    ee = tmp_path / "ee"
    ee.mkdir()
    shutil.copy(os.path.join(ROOT, "examples", "ee", "execution-environment.yml"), ee)
    shutil.copy(built, ee)  # where the example's comment says to build it
    ctx = tmp_path / "context"
    run(os.path.join(BIN, "ansible-builder"), "create", "-f", str(ee / "execution-environment.yml"), "-c", str(ctx),
        "--output-filename", "Containerfile")
    containerfile = (ctx / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in containerfile
    assert "ansible-core>=2.17,<2.20 ansible-runner>=2.3" in containerfile
    assert "COPY _build/collections/ /build/collections/" in containerfile
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile
    galaxy = yaml.safe_load((ctx / "_build" / "requirements.yml").read_text())
    names = [c["name"] for c in galaxy["collections"]]
    assert names == ["/build/collections/azure_backup-remediation.tar.gz", "ansible.windows", "azure.azcollection"]
    assert os.path.basename(built) in os.listdir(ctx / "_build" / "collections")
    assert "pypsrp[credssp,kerberos]" in (ctx / "_build" / "requirements.txt").read_text()
    assert "python3.11-devel [platform:rpm compile]" in (ctx / "_build" / "bindep.txt").read_text()


def test_the_example_ee_takes_the_newest_tarball_where_older_builds_are_left(tmp_path):
    steps = load("examples/ee/execution-environment.yml")["additional_build_steps"]["prepend_galaxy"]
    [move] = [step[len("RUN "):] for step in steps if step.startswith("RUN ") and "mv " in step]
    for version in ("0.2.0", "0.10.0", "0.3.0"):
        (tmp_path / ("azure_backup-remediation-%s.tar.gz" % version)).write_text(version)
    subprocess.run(["sh", "-c", move.replace("/build/collections", str(tmp_path))], check=True)
    assert (tmp_path / "azure_backup-remediation.tar.gz").read_text() == "0.10.0"


def test_tarballs_built_into_the_example_folder_are_not_committed():
    import fnmatch
    with open(os.path.join(ROOT, ".gitignore")) as handle:
        patterns = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    assert any(fnmatch.fnmatch("/examples/ee/azure_backup-remediation-0.3.0.tar.gz", p) for p in patterns if p.startswith("/"))
