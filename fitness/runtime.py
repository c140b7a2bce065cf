"""TensorFlow process set-up: import it quietly, then threads, op determinism, GPU memory growth.

Every process that trains (a loky worker, a Dask worker, the search process when
it retrains or scores the best, or trains on the serial engine) calls
:func:`configure_tensorflow` once before building a model; further calls with the
same thread count do nothing.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import tempfile

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


def configure_tensorflow(threads: int) -> None:
    """Set TensorFlow threads, op determinism and GPU memory growth, once per process.

    The first call also imports Keras and then freezes every object alive at that
    point (``gc.freeze``): the ~400,000 objects of the TensorFlow and Keras modules
    live as long as the process, and without this each of the garbage collections
    done between candidates walks all of them (about 0.2 s each on a 2-core machine,
    measured; two per candidate). Afterwards a collection only looks at what the
    candidates created.
    """
    if _CONFIGURED.get("threads") == threads:
        return
    tf = import_tensorflow()

    if "threads" not in _CONFIGURED:
        import keras  # noqa: F401  (imported here so that its modules are frozen below)

        gc.collect()
        gc.freeze()
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
        tf.config.experimental.enable_op_determinism()
    _CONFIGURED["threads"] = threads


__all__ = ["configure_tensorflow", "import_tensorflow"]
