"""The planner's only door to the Hugging Face Hub.

Why this package exists: planning a model from its Hub id needs three small things,
the ``config.json``, the safetensors headers (dtypes and shapes, which reveal a
pre-quantized checkpoint) and the list of GGUF files with their sizes. It fetches
them with ``huggingface_hub``'s own client, never with hand-written HTTP, never
loads code (no ``trust_remote_code``, no transformers, no torch), keeps what it
fetched in the HF cache so a repeat call works offline, and turns every library
error into one of :mod:`planner.errors` with a message fit for a user.

huggingface_hub APIs used (2.x, see ``/work/shared/research/ecosystem.md`` §4):

* :func:`huggingface_hub.get_hf_file_metadata` (one ``HEAD``, short timeout, no
  retries) as a fast gate before :func:`huggingface_hub.hf_hub_download`, which
  stores ``config.json`` in the HF cache (``refs/``, ``snapshots/``, ``blobs/``).
  The gate matters: after a failed ``HEAD``, ``hf_hub_download`` retries with a
  60 s timeout and exponential back-off (and sleeps through a 429's reset time),
  which would freeze a page for minutes.
* :meth:`HfApi.model_info` with ``files_metadata=True``: one request that gives the
  commit sha and every file with its size (GGUF variants). Unlike
  ``list_repo_tree`` (paginated through ``http_backoff``, which sleeps on 429) it
  takes a timeout and is not retried.
* :meth:`HfApi.get_safetensors_metadata`: safetensors headers via HTTP ``Range``
  requests (a few KiB per shard); raises ``NotASafetensorsRepoError`` for repos
  without safetensors, which here means ``safetensors=None``.
* :func:`huggingface_hub.try_to_load_from_cache` and
  :func:`huggingface_hub.constants.is_offline_mode` (``HF_HUB_OFFLINE``) for the
  offline path.

The token is never handled here: every call passes ``token=None`` so
huggingface_hub reads ``HF_TOKEN`` or its token file itself; no message or log line
carries it. The safetensors summary is cached as a small JSON file under
``<HF_HUB_CACHE>/.vram-planner/`` keyed by repo and commit sha (plus a ref file per
branch or tag name), next to the ``config.json`` that the HF cache keeps.

Modules: :mod:`~planner.hub.client` (the two entry points),
:mod:`~planner.hub.ids` (repo id and revision checks),
:mod:`~planner.hub.config_file` (``config.json`` through the HF cache),
:mod:`~planner.hub.safetensors` (header summaries),
:mod:`~planner.hub.quantization` (pre-quantization from config and tensors),
:mod:`~planner.hub.gguf_files` (GGUF names and shards),
:mod:`~planner.hub.cache` (the summary cache),
:mod:`~planner.hub.errors` (library errors to :mod:`planner.errors`, token redaction)
and :mod:`~planner.hub.results` (the records they all return). Import from
``planner.hub`` itself: the names below are the public API.
"""

from planner.hub.client import DEFAULT_TIMEOUT_S, fetch_config, fetch_model_info
from planner.hub.gguf_files import gguf_quant_type, gguf_variants
from planner.hub.ids import check_repo_id
from planner.hub.quantization import merge_quantization, quantization_from_config, quantization_from_tensors
from planner.hub.results import GGUFVariant, HubModel, PreQuantization, SafetensorsSummary, TensorEntry
from planner.hub.safetensors import MAX_TENSORS_KEPT, summarize_safetensors

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MAX_TENSORS_KEPT",
    "GGUFVariant",
    "HubModel",
    "PreQuantization",
    "SafetensorsSummary",
    "TensorEntry",
    "check_repo_id",
    "fetch_config",
    "fetch_model_info",
    "gguf_quant_type",
    "gguf_variants",
    "merge_quantization",
    "quantization_from_config",
    "quantization_from_tensors",
    "summarize_safetensors",
]
