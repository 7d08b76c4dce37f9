"""The AMD model ships as data, never as code: the artifact is plain JSON (no pickle, no
joblib, no numpy object arrays) and the runtime loads it without any unpickler.

Unpickling a model file runs whatever code the file names, so a tampered artifact (or
one fetched from the wrong place) would own every dialer process.
"""

from __future__ import annotations

import ast
import json
import pickletools
import subprocess
import sys
from pathlib import Path

import pytest

from amd_model.model import ARTIFACT_DIR, DEFAULT_ARTIFACT, FORMAT, load_model
from tests.security._parse import parse

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PACKAGES = ("campaigns", "storage", "sip", "amd_model", "agent", "actors", "chatops",
                    "dialer")
OFF_RUNTIME_PATH = ("amd_model/training/",)
UNPICKLERS = frozenset({"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "joblib",
                        "shelve", "marshal", "torch", "skops"})
BINARY_MAGIC = {b"\x80": "pickle (protocol 2+)", b"PK": "zip (joblib, npz, torch)",
                b"\x93NUMPY": "numpy .npy", b"\x1f\x8b": "gzip", b"BZh": "bzip2",
                b"\xfd7zXZ": "xz"}


def _artifacts() -> list[Path]:
    files = sorted(p for p in ARTIFACT_DIR.iterdir() if p.is_file())
    assert DEFAULT_ARTIFACT in files
    return files


@pytest.mark.parametrize("path", _artifacts(), ids=lambda p: p.name)
def test_every_artifact_is_json_and_no_pickle(path: Path) -> None:
    data = path.read_bytes()
    assert path.suffix == ".json"
    for magic, kind in BINARY_MAGIC.items():
        assert not data.startswith(magic), f"{path.name} looks like {kind}"
    with pytest.raises(ValueError, match="opcode"):  # not a valid pickle opcode stream
        list(pickletools.genops(data))
    doc = json.loads(data.decode("utf-8"),
                     parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert doc["format"] == FORMAT
    assert load_model(path).features == tuple(doc["features"])


def test_the_loader_refuses_a_pickle_in_place_of_the_artifact(tmp_path: Path) -> None:
    import pickle

    from amd_model.errors import ModelError

    planted = tmp_path / "amd_v1.json"
    planted.write_bytes(pickle.dumps({"format": FORMAT, "version": 1}))
    with pytest.raises(ModelError):
        load_model(planted)


def _imports(path: Path) -> set[str]:
    tree = parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "load" and isinstance(node.func.value, ast.Name) \
                and node.func.value.id in ("np", "numpy") \
                and any(k.arg == "allow_pickle" for k in node.keywords):
            names.add("numpy.load(allow_pickle)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "__import__":
            names.add("__import__")
    return names


def test_no_runtime_module_imports_an_unpickler() -> None:
    offenders = {}
    files = [p for pkg in RUNTIME_PACKAGES for p in (ROOT / pkg).rglob("*.py")
             if not any(p.relative_to(ROOT).as_posix().startswith(o)
                        for o in OFF_RUNTIME_PATH)]
    assert len(files) > 50
    for path in files:
        bad = _imports(path) & (UNPICKLERS | {"numpy.load(allow_pickle)", "__import__"})
        if bad:
            offenders[path.relative_to(ROOT).as_posix()] = sorted(bad)
    assert offenders == {}


_PROBE = r"""
import json, pickle, sys
for name in ("joblib", "cloudpickle", "dill", "sklearn", "torch", "skops"):
    sys.modules[name] = None  # importing any of these now fails

def refuse(*args, **kwargs):
    raise AssertionError("the AMD model was unpickled")

class Refuse(pickle.Unpickler):
    def __init__(self, *args, **kwargs):
        refuse()

pickle.load = pickle.loads = refuse
pickle.Unpickler = Refuse
import _pickle
_pickle.load = _pickle.loads = refuse

from amd_model.api import load_detector
from amd_model.model import load_model
detector = load_detector()
model = load_model()
p = model.predict([0.0] * len(model.features))
print(json.dumps({"p": p, "modules": sorted(m for m in ("joblib", "cloudpickle", "dill",
      "sklearn", "torch") if sys.modules.get(m) is not None)}))
"""


def test_the_detector_loads_with_every_unpickler_disabled() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert 0.0 <= result["p"] <= 1.0
    assert result["modules"] == []
