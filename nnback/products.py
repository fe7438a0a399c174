"""The matrix product of every layer, replaceable for a block of code.

Everywhere this is ``a @ b``. A training step captured as a CUDA graph on CuPy (``cuda_graphs.py``)
needs its products on a cuBLAS handle that was bound to the capture stream before capture began,
because CuPy's own handle refuses to be bound while a stream is capturing; ``using`` swaps the
product in for the step, and nothing else in the core changes.
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

_product: ContextVar[Callable] = ContextVar("nnback_matmul", default=operator.matmul)


def matmul(a, b):
    """``a @ b``, or the product installed by :func:`using`."""
    return _product.get()(a, b)


def current() -> Callable:
    """The product :func:`matmul` uses now (fetch it once for several products)."""
    return _product.get()


@contextmanager
def using(product: Callable) -> Iterator[None]:
    """Compute every :func:`matmul` inside the block with ``product(a, b)``."""
    token = _product.set(product)
    try:
        yield
    finally:
        _product.reset(token)
