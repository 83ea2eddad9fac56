"""benchmark.py: parameter counts and disk sizes against hand-computed values, the span comparison,
and end-to-end runs on tiny configs (architecture-only) and on the tiny fine-tuned run (real mode).
Speed and memory are measured by benchmark.py, never asserted here."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from clinical_ner.benchmark.rows import ROW_KEYS
from clinical_ner.benchmark.run import run_benchmark
from clinical_ner.benchmark.settings import BenchmarkArguments, ModelSpec, WorkerSpec
from clinical_ner.benchmark.sizes import (
    build_arch_model,
    count_parameters,
    embedding_parameters,
    real_config,
    safetensors_header_length,
    save_sizes,
)
from clinical_ner.benchmark.spans import compare_span_sets, overlap_char_ranges, padded_positions
from clinical_ner.benchmark.timing import training_batches
from clinical_ner.benchmark.worker import run_worker
from tests.conftest import DEMO

TINY_DISTILBERT = {"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 2,
                   "max_position_embeddings": 32}
TINY_BERT = {"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
             "num_attention_heads": 2, "max_position_embeddings": 32}

# By hand, hidden 8, FFN 16, one layer, 32 positions, V words, L labels:
#   one layer = q,k,v,out 4*(8*8+8)=288 + LayerNorm 16 + FFN (8*16+16)+(16*8+8)=280 + LayerNorm 16
#             = 600 (DistilBERT and BERT alike)
#   DistilBERT embeddings = V*8 + 32*8 + LayerNorm 16; BERT adds 2 token types * 8
#   classifier = 8*L + L
# V=100, L=5: DistilBERT 800+256+16 + 600 + 45 = 1717; BERT 800+256+16+16 + 600 + 45 = 1733.
# V=28996 (real vocabulary), L=63 (PHI): DistilBERT 231968+256+16 + 600 + 567 = 233407;
#                                        BERT      231968+256+16+16 + 600 + 567 = 233423.


@pytest.mark.parametrize("alias,overrides,params,embeddings", [
    ("distilbert", TINY_DISTILBERT, 1717, 1072),
    ("bert", TINY_BERT, 1733, 1088),
])
def test_tiny_params_and_disk_sizes_by_hand(tmp_path, alias, overrides, params, embeddings):
    model = build_arch_model(alias, 5, dict(overrides, vocab_size=100))
    assert count_parameters(model) == params
    assert embedding_parameters(model) == embeddings
    sizes = save_sizes(model, tmp_path)
    for dtype, width in (("fp32", 4), ("fp16", 2)):
        f = tmp_path / dtype / "model.safetensors"
        header = safetensors_header_length(f)
        # file = 8-byte header length + JSON header + every parameter at `width` bytes
        assert sizes[f"disk_bytes_{dtype}"] == f.stat().st_size == 8 + header + width * params
        assert header < 4096
        meta = json.loads(f.read_bytes()[8 : 8 + header])
        tensors = {k: v for k, v in meta.items() if k != "__metadata__"}
        assert {v["dtype"] for v in tensors.values()} == {"F32" if width == 4 else "F16"}
        assert sizes[f"disk_mb_{dtype}"] == round(sizes[f"disk_bytes_{dtype}"] / 1e6, 3)


def test_real_configs_have_the_base_model_sizes():
    import torch
    from transformers import AutoModelForTokenClassification

    # bert-base-cased has 108,310,272 parameters with its pooler (590,592, not used for tokens):
    # 107,719,680 + a 63-label head (768*63+63 = 48,447) = 107,768,127.
    # distilbert-base-cased has 65,190,912; + 48,447 = 65,239,359.
    expected = {"distilbert": (65_239_359, 6), "bert": (107_768_127, 12),
                "biobert": (107_768_127, 12), "clinicalbert": (107_768_127, 12)}
    for alias, (n, layers) in expected.items():
        config = real_config(alias, 63)
        assert config.vocab_size == 28996
        with torch.device("meta"):
            model = AutoModelForTokenClassification.from_config(config)
        assert count_parameters(model) == n, alias
        assert (config.n_layers if alias == "distilbert" else config.num_hidden_layers) == layers


def test_compare_span_sets_counts_and_reasons():
    ours = [{(0, 3, "DATE"), (10, 14, "DOCTOR")}, {(5, 9, "AGE")}, {(0, 2, "CITY")}]
    theirs = [{(0, 3, "DATE"), (10, 12, "DOCTOR")}, {(5, 9, "AGE")}, {(0, 2, "CITY"),
                                                                      (40, 44, "DATE")}]
    bounds = [({0, 10, 12}, {3, 12, 14}), ({5}, {9}), ({0, 40}, {2, 44})]
    res = compare_span_sets(ours, theirs, doc_ids=["a", "b", "c"],
                            overlaps=[[], [], [(38, 41)]], word_bounds=bounds)
    assert res["spans_ours"] == 4 and res["spans_pipeline"] == 5
    assert res["spans_in_both"] == 3
    assert res["spans_only_ours"] == 1 and res["spans_only_pipeline"] == 2
    assert res["notes_differing"] == 2 and not res["identical"]
    # note a has one window: its differences are "other"; note c's extra span touches the
    # two-window region 38..41
    assert res["differences_by_reason"] == {"other": 2, "window_overlap": 1}
    assert res["single_window_notes"] == 2 and res["single_window_notes_identical"] == 1
    assert {e["doc_id"] for e in res["examples"]} == {"a", "c"}
    same = compare_span_sets(ours, ours, doc_ids=["a", "b", "c"], overlaps=[[], [], []],
                             word_bounds=bounds)
    assert same["identical"] and same["spans_in_both"] == 4


def test_word_boundary_reason():
    res = compare_span_sets([set()], [{(0, 5, "DATE")}], doc_ids=["a"], overlaps=[[]],
                            word_bounds=[({0, 2}, {2, 6})])
    assert res["differences_by_reason"] == {"word_boundary": 1}


def test_overlap_char_ranges_by_hand():
    from clinical_ner.labels import split_words
    from clinical_ner.models import ModelNotAvailable, resolve_model
    from clinical_ner.windows import tokenize_documents

    try:
        path = resolve_model("minilm")
    except ModelNotAvailable as exc:
        pytest.skip(str(exc))
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    text = "the cat sat on the mat and the dog"
    words = [split_words(text)]
    toks = tokenize_documents(tok, [text], words)
    assert len(toks[0].ids) == 9  # one sub-token per word
    # max_seq_length 6 = [CLS] + 4 + [SEP]; stride 1: windows start at tokens 0, 3, 6, so the
    # shared tokens are 3 ("on", chars 12-14) and 6 ("and", chars 23-26).
    assert overlap_char_ranges(tok, toks, words, 6, 1) == [[(12, 14), (23, 26)]]
    assert overlap_char_ranges(tok, toks, words, 16, 1) == [[]]


def test_padded_positions_by_hand():
    # windows sorted 10, 50, 100, 256, 256 in batches of 2: 2*50 + 2*256 + 1*256 = 868;
    # note by note, each note's windows padded to its longest: 10 + 3*256 + 50 = 828
    res = padded_positions([[10], [256, 256, 100], [50]], 2)
    assert res == {"real": 672, "batched": 868, "per_note": 828}


def test_training_batches_cover_every_window_once():
    windows = [{"input_ids": [0] * n} for n in (5, 9, 2, 7, 3, 8, 1, 6, 4, 10)]
    for mode in ("dynamic", "pad_to_max"):
        batches = training_batches(windows, 4, mode, seed=3)
        assert [len(b) for b in batches] == [4, 4, 2]
        assert sorted(i for b in batches for i in b) == list(range(10))
    with pytest.raises(ValueError):
        training_batches(windows, 4, "sorted", seed=3)


def _tiny_args(tmp_path, tokenizer_dir, **kw) -> BenchmarkArguments:
    overrides = {"distilbert": TINY_DISTILBERT, "bert-base": TINY_BERT}
    base = dict(architecture_only=True, models="distilbert,bert,biobert", reference="bert",
                data_dir=str(DEMO), tokenizer=str(tokenizer_dir),
                config_overrides=json.dumps(overrides), max_seq_length=32, doc_stride=8,
                max_documents=3, passes=1, warmup_documents=1, latency_documents=2,
                train_steps=2, train_documents=4, train_batch_size=4, isolate=False,
                output_dir=str(tmp_path / "out"))
    base.update(kw)
    return BenchmarkArguments(**base)


def test_architecture_only_end_to_end_tiny(tmp_path, tiny_base_model):
    res = run_benchmark(_tiny_args(tmp_path, tiny_base_model))
    out = tmp_path / "out"
    for name in ("results.json", "results.md", "inference_time.png", "disk_size.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "results.json").read_text())
    assert saved["mode"] == "architecture_only"
    rows = {r["model"]: r for r in saved["rows"]}
    assert list(rows) == ["distilbert", "bert", "biobert"]
    for r in rows.values():
        assert set(ROW_KEYS) <= set(r) and "error" not in r
        assert r["f1"] is None and r["f1_ci"] is None and r["train_seconds"] is None
        assert r["peak_mem_mb"] is None  # not isolated: no per-model peak
        assert r["documents"] == 3 and r["vocab_size"] == 28996
        assert r["infer_tokens_per_s"] > 0 and r["train_tokens_per_s"] > 0
    assert rows["distilbert"]["params"] == 233_407
    assert rows["bert"]["params"] == 233_423
    assert rows["biobert"]["same_as"] == "bert"
    assert rows["biobert"]["params"] == 233_423
    for m, n in (("distilbert", 233_407), ("bert", 233_423)):
        extra = rows[m]["disk_bytes_fp32"] - 4 * n  # 8-byte length + JSON header
        assert 8 < extra < 4096
        assert 8 < rows[m]["disk_bytes_fp16"] - 2 * n < 4096
    assert saved["ratios"]["distilbert"]["params"] == round(233_407 / 233_423, 4)
    assert saved["ratios"]["biobert"]["params"] == 1.0
    assert saved["side_by_side"]["inference_speedup_vs_pipeline"] is None
    assert saved["environment"]["versions"]["torch"]
    assert res["plots"] == ["inference_time.png", "disk_size.png"]
    md = (out / "results.md").read_text()
    assert "| distilbert | phi | 0.23 |" in md


def test_isolated_memory_worker_reports_peak_memory(tmp_path, tiny_base_model):
    ms = ModelSpec(name="distilbert", kind="arch", alias="distilbert", task="phi",
                   overrides=TINY_DISTILBERT, tokenizer=str(tiny_base_model), max_seq_length=32,
                   doc_stride=8, train_batch_size=2, side_by_side=False)
    spec = WorkerSpec(job="memory", models=[ms], format="i2b2_2014", data_dir=str(DEMO),
                      split="test", max_documents=2, train_documents=2, eval_batch_size=8,
                      train_steps=1, device="cpu", bf16=False, threads=1, seed=0)
    m = run_worker(spec, tmp_path / "worker.log", isolate=True)
    assert "error" not in m, m.get("error")
    assert m["params"] == 233_407 and m["documents"] == 2
    assert 0 < m["peak_mem_baseline_mb"] <= m["peak_mem_mb"] <= m["train_peak_mem_mb"]
    assert m["train_peak_mem_delta_mb"] == round(m["train_peak_mem_mb"]
                                                 - m["peak_mem_baseline_mb"], 1)
    assert 8 < m["disk_bytes_fp32"] - 4 * 233_407 < 4096
    assert m["torch_threads"] == 1
    bad = run_worker(replace(spec, job="nothing"), None, isolate=False)
    assert set(bad) == {"error"} and "unknown worker job" in bad["error"]


@pytest.mark.slow
def test_real_mode_side_by_side_on_tiny_run(tmp_path, tiny_phi_run):
    args = BenchmarkArguments(models="tiny", reference="tiny", runs=f"tiny={tiny_phi_run}",
                              data_dir=str(DEMO), passes=1, warmup_documents=1,
                              latency_documents=2, train_steps=2, train_documents=6,
                              side_by_side_lengths="32:8,600:8",
                              bootstrap=20, isolate=False, output_dir=str(tmp_path / "out"))
    res = run_benchmark(args)
    row = res["rows"][0]
    assert "error" not in row, row.get("error")
    metrics = json.loads((Path(tiny_phi_run) / "metrics.json").read_text())
    # F1 and CI come from the run's own test scores ...
    assert row["f1"] == metrics["strict"]["micro"]["f1"]
    assert row["f1_ci"] == metrics["strict"]["micro"]["f1_ci"]
    assert row["f1_source"].endswith("metrics.json")
    # ... and the benchmark's own predictions (same windows, same batch size) give the same F1
    assert row["f1_benchmark"] == metrics["strict"]["micro"]["f1"]
    assert row["documents"] == 20 and row["max_seq_length"] == 64 and row["doc_stride"] == 16
    train = json.loads((Path(tiny_phi_run) / "train_results.json").read_text())
    assert row["train_seconds"] == train["train_seconds"]
    sbs = res["side_by_side"]
    assert sbs["model"] == "tiny"
    sp = sbs["pipeline"]["spans"]
    assert sp["notes"] == 20
    assert sp["spans_in_both"] + sp["spans_only_ours"] == sp["spans_ours"]
    assert sp["spans_in_both"] + sp["spans_only_pipeline"] == sp["spans_pipeline"]
    assert sum(sp["differences_by_reason"].values()) == (sp["spans_only_ours"]
                                                          + sp["spans_only_pipeline"])
    # batched windows with the pipeline's merge rule give the pipeline's spans exactly
    assert sbs["spans_identical"] is True and sp["notes_differing"] == 0
    assert sbs["pipeline"]["ours_window_merge"] == "longest"
    f1s = sbs["pipeline"]["strict_f1"]
    assert f1s["pipeline"] == f1s["ours_longest_merge"]
    assert f1s["ours_central_merge"]["f1"] == row["f1_benchmark"]
    sc = sbs["pipeline"]["spans_central_merge"]
    assert sc["spans_in_both"] + sc["spans_only_pipeline"] == sp["spans_pipeline"]
    assert sbs["spans_identical_central_merge"] == sc["identical"]
    assert sbs["inference_speedup_vs_pipeline"] > 0
    assert set(sbs["training"]) == {"dynamic", "pad_to_max"}
    assert sbs["training"]["pad_to_max"]["padded_tokens"] % 64 == 0  # every window padded to 64
    d = sbs["training"]["dynamic"]
    windows = row["train_windows"]
    assert sbs["training_speedup_padding_bound"] == round(windows * 64 / d["epoch_real_tokens"], 3)
    # the sweep at 32/8: the same 6 training notes cut into 32-token windows
    from transformers import AutoTokenizer

    from clinical_ner.run_folder import RunFolder
    from clinical_ner.task_data import load_task_documents
    from clinical_ner.windows import build_windows

    # the run's own reading of its corpus (split seed, labels, discontinuous policy)
    read = load_task_documents(RunFolder(tiny_phi_run).corpus_settings(data_dir=str(DEMO)))
    wins = build_windows(AutoTokenizer.from_pretrained(tiny_phi_run), read.splits["train"][:6],
                         read.task, 32, 8)
    sw, sw_600 = sbs["training_sweep"]
    # 600 positions exceed the tiny model's 512: that setting fails alone, the rest is measured
    assert sw_600["max_seq_length"] == 600 and "error" in sw_600
    assert "error" in sbs["inference_sweep"][1] and row["f1_benchmark"] is not None
    assert "failed (inference:" in (tmp_path / "out" / "results.md").read_text()
    assert (sw["max_seq_length"], sw["doc_stride"], sw["windows"]) == (32, 8, len(wins))
    assert sw["padding_bound"] == round(len(wins) * 32 / sum(w["length"] for w in wins), 3)
    assert "| 32 / 8 |" in (tmp_path / "out" / "results.md").read_text()
    isw = sbs["inference_sweep"][0]
    assert (isw["max_seq_length"], isw["doc_stride"], isw["notes"]) == (32, 8, 20)
    assert isw["spans_identical"] is True and isw["notes_identical"] == 20
    for name in ("results.json", "results.md", "f1_vs_inference_time.png", "disk_size.png"):
        assert (tmp_path / "out" / name).is_file(), name


def test_parse_lengths():
    from clinical_ner.benchmark.settings import parse_lengths

    assert parse_lengths("256:64, 512:128") == [[256, 64], [512, 128]]
    assert parse_lengths("") == []
    with pytest.raises(ValueError, match="MAX_SEQ_LENGTH:DOC_STRIDE"):
        parse_lengths("256")
    with pytest.raises(ValueError, match="less than the window's content"):
        parse_lengths("256:254")  # 254 content sub-tokens: a stride of 254 never advances
    assert parse_lengths("256:253") == [[256, 253]]


def test_benchmark_cli_exit_codes(tmp_path, capsys):
    import benchmark

    assert benchmark.main(["--side_by_side_lengths", "256:300"]) == 2
    assert "DOC_STRIDE must be >= 0" in capsys.readouterr().err


def test_training_windows_follow_the_runs_negative_draw(tiny_tokenizer):
    """With the run's negative_window_keep < 1 the timed epoch holds the run's first-epoch
    draw: every window with an entity plus round(keep x the others)."""
    from types import SimpleNamespace

    from clinical_ner.benchmark.context import ModelContext, ModelInfo, train_windows
    from clinical_ner.run_folder import CorpusSettings
    from clinical_ner.task_data import load_task_documents
    from clinical_ner.windows import build_windows

    settings = CorpusSettings(data_dir=str(DEMO))
    read = load_task_documents(settings)  # the training reading, as train_ner.py reads it
    all_wins = build_windows(tiny_tokenizer, read.splits["train"][:10], read.task, 32, 8)
    pos = sum(any(lab > 0 for lab in w["labels"]) for w in all_wins)
    neg = len(all_wins) - pos
    ms = ModelSpec(name="m", kind="run", task="phi", max_seq_length=32, doc_stride=8,
                   train_batch_size=4, negative_window_keep=0.5, train_seed=42)
    spec = WorkerSpec(job="timing", models=[ms], data_dir=str(DEMO), train_documents=10)

    def info():
        return ModelInfo(0, 0, 0, 0, 32, 8, len(tiny_tokenizer), "tok")

    ctx = ModelContext(ms, settings, read.task, [], tiny_tokenizer, [], 0, info(), 0.0,
                       inner=SimpleNamespace(config=SimpleNamespace(
                           vocab_size=len(tiny_tokenizer))))
    wins = train_windows(ctx, spec)
    assert len(wins) == pos + round(0.5 * neg)
    assert ctx.info.train_windows_all == len(all_wins)
    assert ctx.info.train_windows == len(wins) and ctx.info.train_documents == 10
    assert ctx.info.to_dict()["negative_window_keep"] == 0.5
    ms.negative_window_keep = 1.0
    ctx.info = info()
    assert len(train_windows(ctx, spec)) == len(all_wins)
    assert "train_windows_all" not in ctx.info.to_dict()


def test_benchmark_cli_reports_a_failed_measurement(tmp_path, capsys, monkeypatch):
    """A row with a failed measurement: results are written, the failure is printed and listed
    in results.md, and the exit status is 1."""
    from dataclasses import asdict

    import benchmark

    row = {k: None for k in ROW_KEYS}
    row.update(model="tiny", task="phi", partial_errors=["worker exited with 1: ValueError: x"])
    settings = dict(asdict(BenchmarkArguments()), torch_threads=2)
    results = {"mode": "real", "reference": "tiny", "rows": [row], "side_by_side": {},
               "environment": {}, "settings": settings, "notes": [], "plots": []}
    monkeypatch.setattr(benchmark, "run_benchmark", lambda args: results)
    assert benchmark.main(["--output_dir", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert "tiny / phi failed: worker exited with 1: ValueError: x" in out.err
    assert "## Failures" in out.out and "* tiny / phi: worker exited with 1" in out.out


RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


@pytest.mark.parametrize("name", ["minilm_phi", "architecture_only"])
def test_row_round_trips_the_committed_results_rows(name):
    """Row.from_dict / to_dict give back the committed results.json rows, keys in order."""
    from clinical_ner.benchmark.rows import Row

    path = RESULTS / name / "results.json"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    rows = json.loads(path.read_text())["rows"]
    for d in rows:
        row = Row.from_dict(d)
        assert list(row.to_dict().items()) == list(d.items()), d["model"]
        assert row.get("params") == d["params"]
        assert Row.from_dict(row.to_dict()) == row


def test_make_row_of_a_run_and_of_an_error(tmp_path):
    """A real-mode row takes training time and F1 from the run folder; an error row keeps only
    the columns, the error and the run folder."""
    from clinical_ner.benchmark.rows import Row, make_row

    run = tmp_path / "run"
    run.mkdir()
    (run / "train_results.json").write_text(json.dumps(
        {"train_seconds": 120.0, "train_tokens_per_second": 900.5, "epochs": 3,
         "train_documents": 10}))
    (run / "metrics.json").write_text(json.dumps(
        {"split": "test", "strict": {"micro": {"f1": 0.8, "f1_ci": [0.7, 0.9]}}}))
    m = {"params": 1733, "documents": 4, "f1_benchmark": 0.79, "f1_ci_benchmark": None,
         "not_a_figure": 1}
    row = make_row("tiny", "phi", m, run, "test")
    d = row.to_dict()
    assert list(d)[: len(ROW_KEYS)] == list(ROW_KEYS)
    assert (d["params"], d["documents"], d["train_seconds"], d["epoch_seconds"]) == (
        1733, 4, 120.0, 40.0)
    assert (d["f1"], d["f1_ci"], d["f1_benchmark"]) == (0.8, [0.7, 0.9], 0.79)
    assert d["f1_source"].endswith("metrics.json") and d["run_epochs"] == 3
    assert "not_a_figure" not in d and "error" not in d
    assert Row.from_dict(d) == row
    err = make_row("tiny", "phi", {"error": "ValueError: x"}, run, "test").to_dict()
    assert list(err) == [*ROW_KEYS, "error", "run_dir"]


def test_worker_spec_json_round_trip():
    ms = ModelSpec(name="tiny", kind="run", task="phi", max_seq_length=64, doc_stride=16,
                   train_batch_size=4, data={"data_dir": str(DEMO), "split_seed": 7},
                   run_dir="runs/x", negative_window_keep=0.5, side_by_side=True)
    spec = WorkerSpec(job="timing", models=[ms], data_dir=str(DEMO), passes=3,
                      side_by_side_lengths=[[32, 8]], bootstrap=20)
    back = WorkerSpec.from_json(spec.to_json())
    assert back == spec and back.models[0].is_run
    args = BenchmarkArguments(passes=2, train_steps=3, side_by_side_lengths="32:8",
                              disable_tqdm=True)
    made = WorkerSpec.from_args(args, "corpus", job="memory", models=[ms])
    assert (made.job, made.data_dir, made.passes, made.train_steps) == ("memory", "corpus", 2, 3)
    assert made.side_by_side_lengths == [[32, 8]] and made.progress is False


def test_training_timing_round_trips_a_committed_training_block():
    from clinical_ner.benchmark.timing import TrainingTiming

    path = RESULTS / "minilm_phi" / "results.json"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    training = json.loads(path.read_text())["side_by_side"]["training"]
    for d in training.values():
        assert list(TrainingTiming(**d).to_dict().items()) == list(d.items())


def _fake_run(folder: Path, batch_size: int) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "clinical_ner.json").write_text(json.dumps(
        {"task": "phi", "format": "i2b2_2014", "label_granularity": "type",
         "max_seq_length": 64, "doc_stride": 16}))
    (folder / "run_args.json").write_text(json.dumps(
        {"data": {"data_dir": "elsewhere", "split_seed": 7, "negative_window_keep": 0.5},
         "training": {"per_device_train_batch_size": batch_size, "seed": 3}}))
    return folder


@pytest.mark.parametrize("given,expected", [(None, 8), (16, 16), (4, 4)])
def test_an_explicit_train_batch_size_wins_over_the_runs(tmp_path, given, expected):
    """--train_batch_size given (also 16, the old default) is kept; the run's batch size is the
    default only. The model spec carries the run's corpus settings on the benchmark's corpus."""
    from clinical_ner.benchmark.run import model_entries
    from clinical_ner.benchmark.settings import resolve_args

    run = _fake_run(tmp_path / "run", 8)
    args = BenchmarkArguments(models="tiny", runs=f"tiny={run}", train_batch_size=given,
                              output_dir=str(tmp_path / "out"))
    [entry] = model_entries("phi", ["tiny"], resolve_args(args), str(DEMO), tmp_path, [],
                            given_batch_size=args.train_batch_size)
    ms = entry.spec
    assert ms.train_batch_size == expected
    assert (ms.max_seq_length, ms.doc_stride, ms.train_seed, ms.negative_window_keep) == (
        64, 16, 3, 0.5)
    assert ms.data["data_dir"] == str(DEMO) and ms.data["split_seed"] == 7


@pytest.mark.parametrize("name", ["minilm_phi", "architecture_only"])
def test_committed_results_render_as_committed(name):
    """The report of a committed results.json (ratios and explanations derived again) is its
    committed results.md, but for the sentence on the training batch (now: the run's unless
    --train_batch_size was given)."""
    from clinical_ner.benchmark.report import explain, markdown_report
    from clinical_ner.benchmark.rows import compute_ratios

    path = RESULTS / name / "results.json"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    results = json.loads(path.read_text())
    assert compute_ratios(results["rows"], results["reference"]) == results["ratios"]
    assert explain(results) == results["explanations"]
    new = markdown_report(results).splitlines()
    old = (path.parent / "results.md").read_text().splitlines()
    assert len(new) == len(old)
    differ = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert len(differ) == 1 and differ[0][0].startswith("Inference:")
    assert "unless --train_batch_size was given" in differ[0][1]


def test_backend_rows_spec_and_markdown_of_the_committed_run():
    from dataclasses import asdict

    from clinical_ner.benchmark.backends import BackendRow, BackendSpec, backends_markdown

    path = RESULTS / "backends_minilm_phi" / "backends.json"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    result = json.loads(path.read_text())
    for d in result["rows"]:
        assert list(asdict(BackendRow(**d)).items()) == list(d.items())
    assert backends_markdown(result) == (path.parent / "backends.md").read_text()
    spec = BackendSpec(run_dir="runs/x", backend="onnx", precision="int8", threads=1, shard=1,
                       shards=2, barrier_dir="barrier")
    assert BackendSpec.from_json(spec.to_json()) == spec
