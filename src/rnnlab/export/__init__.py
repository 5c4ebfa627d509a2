"""`rnnlab export`: a finished run's graphs (its Task says which) as ONNX files beside a manifest, each checked
against PyTorch with ONNX Runtime. The weights stay in model.safetensors; the ONNX files are derived."""

from __future__ import annotations

from rnnlab.export.run import FORMATS, export_run

__all__ = ["FORMATS", "export_run"]
