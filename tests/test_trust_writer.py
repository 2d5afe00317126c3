"""Issue 16, items 4 and 5: edgeslm never deletes what it did not write. --force removes only the files an old
manifest lists that still hash as written; staging folders are found by the exact name their lock records, never
by a glob, never while their owner lives; concurrent exports are refused; SIGTERM cleans up like Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeslm.bundle.writer import publish, staging_folder
from edgeslm.errors import UserError
from trust_helpers import USER, assert_error, copy_bundle, edgeslm


def lock_path(dest):
    from edgeslm.bundle.staging import lock_path as path

    return path(dest)


def _export(model, out, *extra):
    return edgeslm("export", "--model", model, "--target", "linux", "--quant", "fp32", "--max-seq-len", "32",
                   "-o", out, *extra)


def test_force_never_deletes_a_folder_with_a_fake_manifest(tiny_model_dir, tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "manifest.json").write_text('{"format_name": "edgeslm-bundle"}')
    (thesis / "chapter1.tex").write_text("years of work")
    assert_error(_export(tiny_model_dir("llama"), thesis, "--force"), USER, "chapter1.tex", "Nothing was deleted")
    assert (thesis / "chapter1.tex").read_text() == "years of work"


def _stage_with(tmp_path, name, text, stage_name=".new.partial"):
    stage = tmp_path / stage_name
    stage.mkdir()
    (stage / name).write_text(text)
    return stage


def test_force_replaces_only_the_files_it_wrote(exported, tmp_path):
    dest = copy_bundle(exported("llama", "int8").bundle, tmp_path / "b")
    (dest / "my-notes.txt").write_text("mine")
    with pytest.raises(UserError, match="my-notes.txt"):
        publish(_stage_with(tmp_path, "model.onnx", "new"), dest, force=True)
    assert (dest / "my-notes.txt").read_text() == "mine" and (dest / "model.onnx.data").exists()

    (dest / "my-notes.txt").unlink()
    (dest / "tokenizer.json").write_text("edited by hand")  # listed, but no longer as edgeslm wrote it
    with pytest.raises(UserError, match="tokenizer.json"):
        publish(_stage_with(tmp_path, "model.onnx", "new", ".second.partial"), dest, force=True)
    assert (dest / "tokenizer.json").read_text() == "edited by hand"


def test_force_replaces_an_untouched_bundle(exported, tmp_path):
    dest = copy_bundle(exported("llama", "int8").bundle, tmp_path / "b")
    publish(_stage_with(tmp_path, "model.onnx", "new"), dest, force=True)
    assert sorted(p.name for p in dest.iterdir()) == ["model.onnx"]
    assert not [p for p in tmp_path.iterdir() if ".replaced-" in p.name]


def test_staging_never_globs_the_users_path(tmp_path):
    keep = tmp_path / ".bx.partial-mine"
    keep.mkdir()
    (keep / "data").write_text("not edgeslm's")
    with staging_folder(tmp_path / "b*") as stage:
        assert stage.name == f".b*.partial-{os.getpid()}"
    assert (keep / "data").exists()
    assert not lock_path(tmp_path / "b*").exists()


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_a_live_owners_staging_folder_is_left_alone(tmp_path, live_pid):
    dest = tmp_path / "out"
    theirs = tmp_path / f".out.partial-{live_pid}"
    theirs.mkdir()
    lock_path(dest).write_text(json.dumps({"pid": live_pid, "stage": theirs.name}))
    with pytest.raises(UserError, match=f"pid {live_pid}"):
        with staging_folder(dest):
            pass
    assert theirs.is_dir() and lock_path(dest).exists()


def test_a_dead_owners_staging_folder_is_cleaned_and_nothing_else(tmp_path):
    dest = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    stale = tmp_path / f".out.partial-{proc.pid}"
    stale.mkdir()
    other = tmp_path / ".out.partial-999999999"
    other.mkdir()
    lock_path(dest).write_text(json.dumps({"pid": proc.pid, "stage": stale.name}))
    with staging_folder(dest) as stage:
        assert stage.is_dir()
    assert not stale.exists() and other.is_dir()


def test_concurrent_export_to_one_destination_is_refused(tiny_model_dir, tmp_path, live_pid):
    dest = tmp_path / "out"
    lock_path(dest).write_text(json.dumps({"pid": live_pid, "stage": f".out.partial-{live_pid}"}))
    assert_error(_export(tiny_model_dir("llama"), dest), USER, "another edgeslm export", str(live_pid))


def test_sigterm_cleans_up_like_ctrl_c(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", "from edgeslm.cli.main import main; main()", "export",
                             "--model", str(tiny_model_dir("llama")), "--target", "linux", "--quant", "fp32",
                             "--max-seq-len", "32", "-o", str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and not any(".partial-" in p.name for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Interrupted" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [], list(tmp_path.iterdir())


def test_bundle_files_get_the_users_umask_modes(exported):
    umask = os.umask(0)
    os.umask(umask)
    bundle = Path(exported("llama", "int8").bundle)
    modes = {p.name: p.stat().st_mode & 0o777 for p in bundle.iterdir()}
    assert set(modes.values()) == {0o666 & ~umask}, modes
