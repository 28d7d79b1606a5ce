"""Filing a GPU run's records under data/measurements/<date>_<gpu>/."""

import json

from verify.cli import main
from verify.collect import folder_name, slug


def test_collect_files_records_by_date_and_gpu(capsys, tmp_path):
    src = tmp_path / "out"
    src.mkdir()
    record = {
        "config": {"id": "llama-bf16"},
        "status": "ok",
        "environment": {
            "date": "2026-11-27T10:00:00Z",
            "device": "cuda",
            "gpu": {"name": "NVIDIA H100 80GB HBM3"},
        },
    }
    (src / "records.jsonl").write_text(json.dumps(record) + "\n")
    (src / "summary.md").write_text("# Suite\n")
    assert main(["collect", str(src), "--dest", str(tmp_path / "m")]) == 0
    folder = tmp_path / "m" / "2026-11-27_nvidia-h100-80gb-hbm3"
    assert sorted(p.name for p in folder.iterdir()) == ["00_llama-bf16.json", "summary.md"]
    assert json.loads((folder / "00_llama-bf16.json").read_text()) == record


def test_folder_name_without_a_gpu():
    assert (
        folder_name([{"environment": {"date": "2026-01-02T00:00:00Z", "device": "cpu"}}]) == "2026-01-02_cpu"
    )
    assert folder_name([{}]) == "undated_unknown"
    assert slug("NVIDIA H200 (141 GB)") == "nvidia-h200-141-gb"
