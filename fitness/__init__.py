"""Turn a genome into metrics: data, Keras model building, training, evaluation."""

from fitness.data import BUILTIN, DataError, Dataset, load_dataset
from fitness.model import build_model, unit_layer_names
from fitness.train import (
    SettingsError,
    TrainSettings,
    configure_tensorflow,
    estimated_seconds,
    evaluate_genome,
    evaluation_seed,
    failed_record,
    objective_name,
    score_test,
)

__all__ = [
    "BUILTIN",
    "DataError",
    "Dataset",
    "SettingsError",
    "TrainSettings",
    "build_model",
    "configure_tensorflow",
    "estimated_seconds",
    "evaluate_genome",
    "evaluation_seed",
    "failed_record",
    "load_dataset",
    "objective_name",
    "score_test",
    "unit_layer_names",
]
