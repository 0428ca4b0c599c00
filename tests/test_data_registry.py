"""datasets.toml and `edgecxr data list|info|fetch`, fetch tested against a local HTTP server."""

import hashlib
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.data.registry import (
    DatasetInfo,
    fetch,
    get_dataset,
    load_registry,
    registry_path,
)
from edgecxr.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
PAYLOAD = bytes(range(256)) * 4000  # 1 MB, long enough to be cut in the middle


def cli(*args, env=None):
    return CliRunner().invoke(edgecxr.cli.app, list(args), env=env)


# -- the registry ---------------------------------------------------------------------------------

def test_registry_lists_every_dataset_the_issue_names_with_honest_checksums():
    registry = load_registry()
    assert set(registry) >= {"kermany", "covid19-image-dataset", "covid-cxr-research", "nih-chestxray14-sample",
                             "chexpert", "ieee8023-covid"}
    kermany = registry["kermany"]
    assert kermany.images == 5856 and kermany.classes == ["NORMAL", "PNEUMONIA"] and kermany.license == "CC BY 4.0"
    assert kermany.url.startswith("https://") and kermany.filename == "ChestXRay2017.zip"
    nih = registry["nih-chestxray14-sample"]
    assert nih.images == 5606 and len(nih.classes) == 15 and "No Finding" in nih.classes
    assert nih.label_format == "csv-multi" and nih.url is None
    assert registry["covid19-image-dataset"].images == 317
    for d in registry.values():
        assert d.manual and d.citation and d.license
        assert d.sha256 is not None or d.checksum_note.startswith("unknown")


def test_the_packaged_registry_is_the_repository_root_file():
    assert registry_path() == REPO / "datasets.toml"  # a wheel ships a copy under share/edgecxr



def test_a_bad_registry_entry_is_named(tmp_path):
    bad = tmp_path / "datasets.toml"
    bad.write_text((REPO / "datasets.toml").read_text().replace('label_format = "folders"', 'label_format = "xml"', 1))
    with pytest.raises(ConfigError, match=r"\[kermany\]: unknown label_format 'xml'"):
        load_registry(bad)


def test_unknown_dataset_suggests_the_nearest_name():
    with pytest.raises(DataError, match="did you mean 'kermany'"):
        get_dataset("kermani")
    result = cli("data", "info", "chexpret")
    assert result.exit_code == 2
    assert "error: unknown dataset 'chexpret'; did you mean 'chexpert'?" in result.output


def test_list_and_info_json():
    listed = json.loads(cli("data", "list", "--json").stdout)
    assert {d["name"] for d in listed["datasets"]} >= {"kermany", "chexpert"}
    info = json.loads(cli("data", "info", "kermany", "--json").stdout)
    assert info["sha256"] is None and info["checksum_note"]
    human = cli("data", "info", "kermany").stdout
    assert "paultimothymooney/chest-xray-pneumonia" in human and "CC BY 4.0" in human


def test_fetch_without_a_url_prints_the_manual_steps():
    result = cli("data", "fetch", "chexpert")
    assert result.exit_code == 0
    assert "no direct download" in result.stdout and "stanfordmlgroup" in result.stdout


# -- fetch against a local server ---------------------------------------------------------------

class _Handler(SimpleHTTPRequestHandler):
    """Serves the directory, honours `Range: bytes=N-`, and can drop the first connection halfway."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.server.ranges.append(self.headers.get("Range"))
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        if start >= len(data):
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if self.server.break_next:
            self.server.break_next = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "x.zip").write_bytes(PAYLOAD)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(served)))
    httpd.ranges, httpd.break_next = [], False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


def _entry(server, sha256=PAYLOAD_SHA256) -> DatasetInfo:
    base = load_registry()["kermany"]
    return DatasetInfo(**(base.to_dict() | {"name": "local", "url": f"http://127.0.0.1:{server.server_port}/x.zip",
                                            "filename": "x.zip", "sha256": sha256}))


def test_fetch_downloads_and_verifies(server, tmp_path):
    result = fetch(_entry(server), tmp_path / "dl", progress=False)
    assert result["status"] == "downloaded" and result["verified"] is True
    assert (tmp_path / "dl" / "x.zip").read_bytes() == PAYLOAD
    assert not (tmp_path / "dl" / "x.zip.part").exists()
    again = fetch(_entry(server), tmp_path / "dl", progress=False)
    assert again["status"] == "present" and len(server.ranges) == 1  # not downloaded twice


def test_fetch_resumes_a_partial_download_with_range(server, tmp_path):
    out = tmp_path / "dl"
    out.mkdir()
    (out / "x.zip.part").write_bytes(PAYLOAD[:300_000])
    result = fetch(_entry(server), out, progress=False)
    assert server.ranges == ["bytes=300000-"]
    assert result["resumed_from"] == 300_000 and result["verified"]
    assert (out / "x.zip").read_bytes() == PAYLOAD


def test_fetch_recovers_from_a_connection_broken_midway(server, tmp_path):
    server.break_next = True
    result = fetch(_entry(server), tmp_path / "dl", progress=False)
    assert server.ranges[0] is None and server.ranges[1].startswith("bytes=")  # 2nd request resumed
    assert result["verified"] and (tmp_path / "dl" / "x.zip").read_bytes() == PAYLOAD


def test_checksum_mismatch_is_an_error_and_keeps_no_file(server, tmp_path):
    with pytest.raises(DataError, match="does not match"):
        fetch(_entry(server, sha256="0" * 64), tmp_path / "dl", progress=False)
    assert list((tmp_path / "dl").iterdir()) == []


def test_fetch_cli_through_a_registry_file_refuses_to_overwrite(server, tmp_path):
    url = f"http://127.0.0.1:{server.server_port}/x.zip"
    text = (REPO / "datasets.toml").read_text()
    start = text.index("[kermany]")
    end = text.index("[covid19-image-dataset]")
    entry = text[start:end]
    entry = entry.replace(entry[entry.index('url = "'):entry.index('filename =')], f'url = "{url}"\n')
    (tmp_path / "reg.toml").write_text(entry.replace('filename = "ChestXRay2017.zip"', 'filename = "x.zip"'))
    env = {"EDGECXR_DATASETS": str(tmp_path / "reg.toml")}
    out = tmp_path / "dl"
    first = cli("data", "fetch", "kermany", "--out", str(out), "--json", env=env)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert doc["status"] == "downloaded" and doc["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    assert doc["verified"] is False  # no checksum in the registry: said so, not pretended
    second = cli("data", "fetch", "kermany", "--out", str(out), env=env)
    assert second.exit_code == 2 and "already exists" in second.output and "--force" in second.output
    assert cli("data", "fetch", "kermany", "--out", str(out), "--force", env=env).exit_code == 0


def test_nih_ozturk_entry_pins_its_git_folders_and_maps_to_kermany_labels():
    from edgecxr.evaluate.classmap import parse_class_map

    nih = load_registry()["nih-ozturk"]
    assert nih.classes == ["No_findings", "Pneumonia"] and nih.images == 1000 and nih.url is None
    assert len(nih.git_commit) == 40 and len(nih.git_trees) == len(nih.git_paths) == 2
    assert parse_class_map(nih.class_map) == {"No_findings": "NORMAL", "Pneumonia": "PNEUMONIA"}
    assert "Wang" in nih.citation and "Ozturk" in nih.citation


def test_git_tree_id_matches_git(tmp_path):
    """An extracted folder verifies against the registry's git tree id without the repository."""
    import shutil
    import subprocess

    from edgecxr.data.registry import git_tree_id

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    folder = tmp_path / "repo" / "set"
    (folder / "b" / "c").mkdir(parents=True)
    (folder / "a.png").write_bytes(b"\x89PNG one")
    (folder / "b.txt").write_bytes(b"two")  # sorts before the folder b/ in git's order
    (folder / "b" / "c" / "d.png").write_bytes(PAYLOAD[:999])
    run = partial(subprocess.run, cwd=tmp_path / "repo", check=True, capture_output=True, text=True)
    run(["git", "init", "-q"])
    run(["git", "add", "set"])
    tree = run(["git", "write-tree"]).stdout.strip()
    expected = run(["git", "rev-parse", f"{tree}:set"]).stdout.strip()
    assert git_tree_id(folder) == expected
    (folder / "a.png").write_bytes(b"\x89PNG changed")
    assert git_tree_id(folder) != expected


def test_a_registry_class_map_naming_no_class_is_refused(tmp_path):
    bad = tmp_path / "datasets.toml"
    bad.write_text((REPO / "datasets.toml").read_text().replace('class_map = "No_findings=', 'class_map = "Nofindings=', 1))
    with pytest.raises(ConfigError, match=r"\[nih-ozturk\]: class_map names Nofindings"):
        load_registry(bad)
