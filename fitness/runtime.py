"""TensorFlow process set-up: import it quietly, then threads, op determinism, GPU memory growth.

Every process that trains (a loky worker, a Dask worker, the search process when
it retrains or scores the best, or trains on the serial engine) calls
:func:`configure_tensorflow` before building a model; the threads and GPU memory
growth are set once, op determinism on every call.

In a process evonas does not own (a notebook calling ``run_search``, ``load_predictor``
or an estimator), :func:`in_callers_process` scopes evonas' settings: op determinism is
switched off again afterwards when it was off before, and nothing is frozen
(``gc.freeze`` is for evonas' own processes: those that call :func:`own_process`). The thread count of a
TensorFlow runtime already started is left as it is.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_CONFIGURED: dict[str, int] = {}


def import_tensorflow():
    """Import TensorFlow without its start-up chatter on stderr (shown only if the import fails)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as chatter:
        os.dup2(chatter.fileno(), 2)
        try:
            import tensorflow as tf
        except BaseException:
            os.dup2(saved, 2)
            chatter.seek(0)
            sys.stderr.write(chatter.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return tf


def own_process() -> None:
    """Say that this process is evonas' own (a worker, the ``evonas`` command): its first
    :func:`configure_tensorflow` then freezes the modules' objects (``gc.freeze``)."""
    _CONFIGURED["own"] = 1


def configure_tensorflow(threads: int) -> None:
    """Set TensorFlow threads and GPU memory growth (once per process) and op determinism.

    In evonas' own processes (:func:`own_process`: the workers, the ``evonas`` command) it also imports
    Keras and then freezes every object alive at that point (``gc.freeze``, once): the
    ~400,000 objects of the TensorFlow and Keras modules live as long as the process, and
    without this each of the garbage collections done between candidates walks all of
    them (about 0.2 s each on a 2-core machine, measured; two per candidate). Afterwards
    a collection only looks at what the candidates created.
    """
    tf = import_tensorflow()
    tf.config.experimental.enable_op_determinism()
    if _CONFIGURED.get("own") and not _CONFIGURED.get("frozen"):
        import keras  # noqa: F401  (imported here so that its modules are frozen below)

        gc.collect()
        gc.freeze()
        _CONFIGURED["frozen"] = 1
    if _CONFIGURED.get("threads") == threads:
        return
    if "threads" not in _CONFIGURED:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # runtime already initialised by the caller: keep its setting
            pass
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                pass
    _CONFIGURED["threads"] = threads


def _determinism() -> Any:
    """TensorFlow's op-determinism switch (``enable``/``disable``/``is_enabled``: the public
    ``enable_op_determinism`` has twins that ``tf.config`` does not export); None before TensorFlow is
    imported."""
    if "tensorflow" not in sys.modules:
        return None
    from tensorflow.python.framework import config as tf_config

    return tf_config


@contextmanager
def in_callers_process() -> Iterator[None]:
    """evonas' work inside a caller's process: op determinism (which evonas' trainings switch on) is
    switched off again at the end when it was off before, so the caller's own TensorFlow code runs as
    it did. Cheap when TensorFlow is not imported yet: then nothing is read or restored.

    Op determinism is one switch for the whole process: two searches in threads of one process
    share it, and the first to end switches it off under the other when it was off before. Run
    concurrent searches in processes (as the engines do)."""
    switch = _determinism()
    was = switch.is_op_determinism_enabled() if switch is not None else False
    try:
        yield
    finally:
        switch = _determinism()
        if switch is not None and not was and switch.is_op_determinism_enabled():
            switch.disable_op_determinism()


__all__ = ["configure_tensorflow", "import_tensorflow", "in_callers_process", "own_process"]
