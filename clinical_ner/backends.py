"""Inference backends: the forward pass of a saved token-classification model in torch or ONNX
Runtime, at fp32, int8 (dynamic quantization), fp16 or bf16.

Everything around the forward pass (windows, batching, the window merge, decoding to spans) is
:mod:`clinical_ner.inference`, unchanged: :func:`load_inference_model` returns an object that
is called like a ``transformers`` model (``model(input_ids=, attention_mask=).logits``, with a
``config``), so spans change only where the logits do.

* ``torch`` + ``fp32``: ``AutoModelForTokenClassification`` as saved.
* ``torch`` + ``int8``: ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear``
  (int8 weights per output channel, activations quantized per batch; CPU only), for users
  without onnxruntime.
* ``torch`` + ``fp16``/``bf16``: the model cast to half precision; GPU only (refused on CPU).
* ``onnx`` + ``fp32``/``int8``: the model exported with ``torch.onnx.export`` (the TorchScript
  exporter, opset 17, dynamic batch and sequence axes, eager attention; ``optimum-onnx`` 0.1
  requires transformers < 4.58, this project uses transformers 5) into ``RUN/onnx/model.onnx``,
  then for
  int8 ``onnxruntime.quantization.quantize_dynamic`` into ``RUN/onnx/model_quantized.onnx``:
  int8 weights (per output channel), uint8 activations, the u8s8 form that AVX-512 VNNI / AVX-VNNI
  run natively; on CPUs without VNNI weights use 7 bits (``reduce_range``), as ONNX Runtime's
  quantization guide advises. The export is checked once against torch on probe batches (max
  absolute logit difference, written to ``RUN/onnx/export.json`` and reported).

The ``RUN/onnx/`` folder is a cache derived from the run's weights: it is rebuilt when
``model.safetensors`` changes (its SHA-256 is recorded) and written atomically.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from clinical_ner.files import sha256_of

logger = logging.getLogger("clinical_ner")

BACKENDS = ("torch", "onnx")
PRECISIONS = ("fp32", "int8", "fp16", "bf16")
ONNX_DIR = "onnx"
ONNX_FP32 = "model.onnx"
ONNX_INT8 = "model_quantized.onnx"
EXPORT_REPORT = "export.json"
#: ONNX opset of the export (transformers' BERT-family ops are all in opset 17).
OPSET = 17


@dataclass
class BackendInfo:
    """What :func:`load_inference_model` loaded: ``backend``, ``precision``, ``device``,
    ``threads`` (intra-op threads; None = the library's default), ``model_files`` (file name ->
    bytes on disk of the weights this backend reads), ``max_abs_logit_diff`` (ONNX against torch
    fp32 on the export's probe batches; None for torch), ``load_seconds``."""

    backend: str
    precision: str
    device: str
    threads: int | None = None
    model_files: dict = field(default_factory=dict)
    max_abs_logit_diff: float | None = None
    load_seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


def check_backend(backend: str, precision: str, device: str) -> None:
    """Refuse a backend/precision/device combination this project cannot run, before anything
    loads. Raises ValueError with one line: unknown backend or precision; fp16/bf16 on CPU
    (half-precision matrix kernels need a GPU); int8 on a GPU (dynamic quantization runs on
    CPU kernels); ONNX at fp16/bf16 (not built); ONNX without onnxruntime installed."""
    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, not "
                         f"{precision!r}")
    on_gpu = str(device).startswith("cuda")
    if precision in ("fp16", "bf16") and not on_gpu:
        raise ValueError(f"--precision {precision} needs a GPU (--device cuda); on CPU use fp32, "
                         "or int8 for speed")
    if precision == "int8" and on_gpu:
        raise ValueError("--precision int8 runs on CPU kernels (dynamic quantization); on a GPU "
                         "use fp16 or bf16")
    if backend == "onnx" and precision in ("fp16", "bf16"):
        raise ValueError(f"--backend onnx supports fp32 and int8; for {precision} use "
                         "--backend torch on a GPU")
    if backend == "onnx":
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise ValueError("--backend onnx needs onnxruntime and onnx: pip install "
                             "'clinical-ner[onnx]' (or use --backend torch)") from exc


def cpu_has_vnni() -> bool:
    """Whether this CPU has AVX-512 VNNI or AVX-VNNI (Linux ``/proc/cpuinfo`` flags; False when
    unknown)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def _weights_file(run_dir: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (run_dir / name).is_file():
            return run_dir / name
    raise FileNotFoundError(f"{run_dir}: no model.safetensors (a model folder written by "
                            "train_ner.py)")


def probe_batches(tokenizer, max_len: int = 64) -> list[dict[str, torch.Tensor]]:
    """Two fixed probe batches for the export check: made-up clinical text (no PHI of anyone)
    at two lengths, the shorter one padded, as ``{"input_ids", "attention_mask"}`` int64
    tensors of shape (batch, positions)."""
    texts = ["Record date: 2093-04-11. Mr. Tolliver Quince, 67, seen at Harbor Point Clinic.",
             "Dr. Amos Velt called 617-555-0142 about MRN 88231904; plan: continue Lasix 20 mg."]
    out = []
    for n in (max_len, max_len // 2):
        enc = tokenizer([texts[0] * 4, texts[1]], truncation=True, max_length=n, padding=True,
                        return_tensors="pt")
        out.append({"input_ids": enc["input_ids"].long(),
                    "attention_mask": enc["attention_mask"].long()})
    return out


def export_onnx(run_dir: str | Path, tokenizer=None, *, int8: bool = False) -> dict:
    """Export the run's model to ``RUN/onnx/model.onnx`` (and, with ``int8``,
    ``model_quantized.onnx``) unless the cache already holds them for the same weights.

    Returns the export report (also ``RUN/onnx/export.json``): ``source_sha256``, ``opset``,
    ``torch``/``onnxruntime`` versions, ``vnni``, per file its ``bytes`` and
    ``max_abs_logit_diff`` against torch fp32 on :func:`probe_batches`, and
    ``argmax_agreement`` (share of probe positions whose predicted class is the same).
    Raises FileNotFoundError when the run has no weights, ValueError when onnxruntime is
    missing.
    """
    check_backend("onnx", "int8" if int8 else "fp32", "cpu")
    run_dir = Path(run_dir)
    (run_dir / ONNX_DIR).mkdir(exist_ok=True)
    with _export_lock(run_dir / ONNX_DIR):  # processes of one launch export once, in turn
        return _export_onnx(run_dir, tokenizer, int8)


@contextlib.contextmanager
def _export_lock(out_dir: Path):
    """An exclusive lock on ``out_dir/.lock`` (``fcntl.flock``; none where fcntl is missing),
    so that several processes exporting the same run wait for the first one's files."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    with open(out_dir / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _export_onnx(run_dir: Path, tokenizer, int8: bool) -> dict:
    import onnxruntime as ort
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    out_dir = run_dir / ONNX_DIR
    weights = _weights_file(run_dir)
    sha = sha256_of(weights)
    report_path = out_dir / EXPORT_REPORT
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    if report.get("source_sha256") != sha:
        report = {"source_sha256": sha, "opset": OPSET, "torch": torch.__version__,
                  "onnxruntime": ort.__version__, "vnni": cpu_has_vnni(), "files": {}}
    want = [ONNX_FP32] + ([ONNX_INT8] if int8 else [])
    if all(name in report["files"] and (out_dir / name).is_file() for name in want):
        return report
    tokenizer = tokenizer or AutoTokenizer.from_pretrained(run_dir)
    # eager attention: the SDPA path of transformers 5 traces into a graph that ONNX Runtime
    # runs about half as fast (measured on MiniLM, 2 cores); the logits are the same
    model = AutoModelForTokenClassification.from_pretrained(
        run_dir, attn_implementation="eager").eval()
    probes = probe_batches(tokenizer)
    with torch.inference_mode():
        refs = [model(**p).logits.float().numpy() for p in probes]
    if ONNX_FP32 not in report["files"] or not (out_dir / ONNX_FP32).is_file():
        t0 = time.time()
        tmp = out_dir / f".{ONNX_FP32}.tmp"
        axes = {"batch": 0, "positions": 1}
        dyn = {k: {v: n for n, v in axes.items()}
               for k in ("input_ids", "attention_mask", "logits")}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings of the TorchScript exporter
            torch.onnx.export(model, (probes[0]["input_ids"], probes[0]["attention_mask"]),
                              str(tmp), input_names=["input_ids", "attention_mask"],
                              output_names=["logits"], dynamic_axes=dyn, opset_version=OPSET,
                              dynamo=False)
        os.replace(tmp, out_dir / ONNX_FP32)
        report["files"][ONNX_FP32] = {"export_seconds": round(time.time() - t0, 2)}
    if int8 and (ONNX_INT8 not in report["files"] or not (out_dir / ONNX_INT8).is_file()):
        from onnxruntime.quantization import QuantType, quantize_dynamic

        t0 = time.time()
        tmp = out_dir / f".{ONNX_INT8}.tmp.onnx"
        root = logging.getLogger()
        level = root.level
        root.setLevel(max(level, logging.WARNING))  # the quantizer logs each tensor at INFO
        try:
            quantize_dynamic(str(out_dir / ONNX_FP32), str(tmp), weight_type=QuantType.QInt8,
                             per_channel=True, reduce_range=not report["vnni"])
        finally:
            root.setLevel(level)
        os.replace(tmp, out_dir / ONNX_INT8)
        report["files"][ONNX_INT8] = {"export_seconds": round(time.time() - t0, 2),
                                      "weight_type": "QInt8", "activation_type": "QUInt8",
                                      "per_channel": True, "reduce_range": not report["vnni"]}
    for name in want:
        sess = ort.InferenceSession(str(out_dir / name), providers=["CPUExecutionProvider"])
        diffs, agree, total = [], 0, 0
        for p, ref in zip(probes, refs, strict=True):
            got = sess.run(["logits"], {k: v.numpy() for k, v in p.items()})[0]
            m = p["attention_mask"].numpy().astype(bool)
            diffs.append(float(np.abs(got - ref)[m].max()))
            agree += int((got.argmax(-1) == ref.argmax(-1))[m].sum())
            total += int(m.sum())
        report["files"][name].update({"bytes": (out_dir / name).stat().st_size,
                                      "max_abs_logit_diff": max(diffs),
                                      "argmax_agreement": round(agree / total, 4)})
    from clinical_ner.files import write_json_atomic

    write_json_atomic(report_path, report)
    for name in want:
        f = report["files"][name]
        logger.info("ONNX %s: %.1f MB, max |logit - torch| %.2e on the probe batches", name,
                    f["bytes"] / 1e6, f["max_abs_logit_diff"])
    return report


class OnnxTokenClassifier(torch.nn.Module):
    """An ONNX Runtime session called like a ``transformers`` token-classification model:
    ``model(input_ids=, attention_mask=)`` (int64 tensors, shape (batch, positions)) returns an
    object whose ``.logits`` is a float32 tensor (batch, positions, labels). ``config`` is the
    run's ``PretrainedConfig`` (``id2label``). It holds one empty parameter so that code asking
    for the model's device gets ``cpu``."""

    def __init__(self, session, config):
        super().__init__()
        self.session, self.config = session, config
        self._device_probe = torch.nn.Parameter(torch.zeros(0), requires_grad=False)

    @property
    def device(self) -> torch.device:
        """Where inputs go: the CPU (ONNX Runtime takes numpy arrays)."""
        return torch.device("cpu")

    def forward(self, input_ids, attention_mask=None, **_):
        from transformers.modeling_outputs import TokenClassifierOutput

        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        feed = {"input_ids": input_ids.cpu().numpy().astype(np.int64),
                "attention_mask": attention_mask.cpu().numpy().astype(np.int64)}
        return TokenClassifierOutput(logits=torch.from_numpy(self.session.run(["logits"],
                                                                               feed)[0]))


def load_inference_model(run_dir: str | Path, *, backend: str = "torch", precision: str = "fp32",
                         device: str | None = None, threads: int | None = None):
    """Load a run's model for inference. Returns ``(model, info)``: a model called like a
    ``transformers`` token-classification model (see the module docstring) and a
    :class:`BackendInfo`. ``threads`` sets the intra-op threads (``torch.set_num_threads`` for
    torch, ``SessionOptions.intra_op_num_threads`` for ONNX Runtime) so that several processes
    on one machine do not oversubscribe its cores. ``device`` defaults to cuda when available.
    Raises ValueError (:func:`check_backend`) for a combination that cannot run."""
    from transformers import AutoConfig, AutoModelForTokenClassification

    run_dir = Path(run_dir)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    check_backend(backend, precision, device)
    t0 = time.time()
    if threads and backend == "torch":
        torch.set_num_threads(threads)
    info = BackendInfo(backend, precision, device, threads)
    if backend == "torch":
        model = AutoModelForTokenClassification.from_pretrained(run_dir).eval()
        info.model_files = {_weights_file(run_dir).name: _weights_file(run_dir).stat().st_size}
        if precision == "int8":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.ao.quantization deprecation notice
                qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear: qconfig},
                                                               dtype=torch.qint8)
        elif precision in ("fp16", "bf16"):
            model = model.to(torch.float16 if precision == "fp16" else torch.bfloat16)
        model.to(device)
    else:
        import onnxruntime as ort

        report = export_onnx(run_dir, int8=precision == "int8")
        name = ONNX_INT8 if precision == "int8" else ONNX_FP32
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")  # untested here: no GPU was lent
        session = ort.InferenceSession(str(run_dir / ONNX_DIR / name), opts, providers=providers)
        model = OnnxTokenClassifier(session, AutoConfig.from_pretrained(run_dir))
        info.model_files = {name: report["files"][name]["bytes"]}
        info.max_abs_logit_diff = report["files"][name]["max_abs_logit_diff"]
    info.load_seconds = round(time.time() - t0, 2)
    return model, info
