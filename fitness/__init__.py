"""Turn a genome into metrics: data, Keras model building, training, evaluation.

Rooms: ``data`` (read, split, ``Dataset``), ``validate`` (input checks), ``model``
(Keras model of an Architecture), ``trainer`` / ``plain`` / ``fused`` (the compiled
trainer), ``settings`` (``TrainSettings``), ``runtime`` (TensorFlow process set-up),
``cost`` (how long a candidate takes), ``evaluate`` (one genome -> one record, and
the test score). See ``docs/design.md``.
"""

from evonas.fitness.cost import estimated_seconds
from evonas.fitness.data import BUILTIN, DataError, Dataset, load_dataset
from evonas.fitness.evaluate import (
    bag_fold_models,
    evaluate_genome,
    evaluation_seed,
    failed_record,
    objective_name,
    refit_genome,
    score_test,
)
from evonas.fitness.folds import FoldError, check_folds, fitted_rows, fold_data, row_sample
from evonas.fitness.model import build_model, unit_layer_names
from evonas.fitness.runtime import configure_tensorflow, import_tensorflow
from evonas.fitness.settings import LARGE_ROWS, SettingsError, TrainSettings

__all__ = [
    "BUILTIN",
    "LARGE_ROWS",
    "DataError",
    "Dataset",
    "FoldError",
    "SettingsError",
    "TrainSettings",
    "bag_fold_models",
    "build_model",
    "check_folds",
    "configure_tensorflow",
    "estimated_seconds",
    "evaluate_genome",
    "evaluation_seed",
    "failed_record",
    "fitted_rows",
    "fold_data",
    "row_sample",
    "import_tensorflow",
    "load_dataset",
    "objective_name",
    "refit_genome",
    "score_test",
    "unit_layer_names",
]
