"""scikit-learn's own estimator checks, on several configurations of each."""

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmlp import NumpyMLPClassifier, NumpyMLPRegressor


def scaled_tanh(Z):
    """A custom activation, module-level so that it pickles."""
    return 1.7159 * np.tanh(2 / 3 * Z)


def scaled_tanh_derivative(Z):
    return 1.7159 * 2 / 3 * (1 - np.tanh(2 / 3 * Z) ** 2)


CUSTOM = (scaled_tanh, scaled_tanh_derivative)


def log_cosh(y_true, y_pred):
    """A custom loss, module-level so that it pickles."""
    return np.log(np.cosh(y_pred - y_true))


def log_cosh_gradient(y_true, y_pred):
    return np.tanh(y_pred - y_true)


LOG_COSH = (log_cosh, log_cosh_gradient)

CLASSIFIERS = [
    NumpyMLPClassifier(),
    NumpyMLPClassifier(activation="logistic", solver="sgd", random_state=0),
    NumpyMLPClassifier(activation="tanh", hidden_layer_sizes=(20, 10), random_state=0),
    NumpyMLPClassifier(solver="sgd", learning_rate="cosine", momentum=0.5),
    NumpyMLPClassifier(solver="lbfgs", activation="identity", random_state=0),
    NumpyMLPClassifier(early_stopping=True, random_state=0),
    NumpyMLPClassifier(dtype="float64", solver="sgd", learning_rate="adaptive"),
    NumpyMLPClassifier(class_weight="balanced", random_state=0),
    NumpyMLPClassifier(dropout=0.2, random_state=0),
    NumpyMLPClassifier(dropout=[0.2, 0.1], hidden_layer_sizes=(50, 20), solver="sgd"),
    NumpyMLPClassifier(
        early_stopping=True, scoring="balanced_accuracy", random_state=0
    ),
    NumpyMLPClassifier(activation="leaky_relu", random_state=0),
    NumpyMLPClassifier(activation="elu", solver="lbfgs", random_state=0),
    NumpyMLPClassifier(activation="gelu", random_state=0),
    NumpyMLPClassifier(activation="softplus", random_state=0),
    NumpyMLPClassifier(activation=CUSTOM, random_state=0),
    # no hidden layer: logistic / softmax regression, and no transformer
    NumpyMLPClassifier(hidden_layer_sizes=(), solver="lbfgs", random_state=0),
    NumpyMLPClassifier(class_weight="balanced", solver="lbfgs", random_state=0),
]

REGRESSORS = [
    NumpyMLPRegressor(),
    NumpyMLPRegressor(solver="lbfgs", random_state=0),
    NumpyMLPRegressor(solver="sgd", activation="tanh", random_state=0),
    NumpyMLPRegressor(early_stopping=True, random_state=0),
    NumpyMLPRegressor(dropout=0.2, hidden_layer_sizes=(50,), random_state=0),
    NumpyMLPRegressor(activation="gelu", scoring="loss", early_stopping=True),
    NumpyMLPRegressor(hidden_layer_sizes=(), solver="lbfgs", random_state=0),
    NumpyMLPRegressor(loss="absolute_error", random_state=0),
    NumpyMLPRegressor(loss="huber", solver="lbfgs", random_state=0),
    NumpyMLPRegressor(loss="quantile", quantile=0.5, solver="sgd", random_state=0),
    NumpyMLPRegressor(loss="quantile", quantile=[0.05, 0.5, 0.95], random_state=0),
    NumpyMLPRegressor(
        loss="quantile", quantile=[0.1, 0.9], early_stopping=True, random_state=0
    ),
    NumpyMLPRegressor(
        loss="quantile", quantile=[0.25, 0.75], solver="lbfgs", random_state=0
    ),
    NumpyMLPRegressor(loss=LOG_COSH, random_state=0),
]

# Early stopping holds out a random validation split; a sample with weight 2
# and the same sample repeated twice land in the split differently, so the
# two fits see different training sets and cannot agree.
EARLY_STOPPING_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data": (
        "the validation split differs between weighted and repeated samples"
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "the validation split differs between weighted and repeated samples"
    ),
}
# check_class_weight_classifiers weighs class 0 by 1000 and the others by
# 1e-4 on noisy unscaled blobs, then asks that 87% of the test points be
# predicted as class 0.
CLASS_WEIGHT_XFAIL = {
    "early_stopping": (
        "the (class-)weighted validation accuracy is perfect after a few "
        "epochs, so early stopping ends training before the regions of the "
        "classes of weight 1e-4 have shrunk (70% of the test points are 0)"
    ),
    "tanh": (
        "a (20, 10) tanh network on unscaled blobs (std 20) keeps regions for "
        "the classes of weight 1e-4 where no class-0 point lies (76%)"
    ),
}


SAMPLE_WEIGHT_EQUIVALENCE = (
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
)
MULTILABEL_CHECKS = (
    "check_classifiers_multilabel_representation_invariance",
    "check_classifiers_multilabel_output_format_predict",
    "check_classifiers_multilabel_output_format_predict_proba",
    "check_classifiers_multilabel_output_format_decision_function",
)


def expected_failed_checks(estimator):
    failures = {}
    classifier = isinstance(estimator, NumpyMLPClassifier)
    if estimator.early_stopping:
        failures.update(EARLY_STOPPING_XFAIL)
        if classifier:
            failures["check_class_weight_classifiers"] = CLASS_WEIGHT_XFAIL[
                "early_stopping"
            ]
    if classifier and (
        estimator.activation == "tanh" or estimator.activation is CUSTOM
    ):
        failures["check_class_weight_classifiers"] = CLASS_WEIGHT_XFAIL["tanh"]
    if np.any(np.asarray(estimator.dropout) > 0):
        for check in SAMPLE_WEIGHT_EQUIVALENCE:
            failures[check] = (
                "each repeated row draws its own dropout mask, a weighted row one"
            )
    if not classifier and estimator.solver == "lbfgs":
        if estimator.loss in ("quantile", "absolute_error"):
            for check in SAMPLE_WEIGHT_EQUIVALENCE:
                failures[check] = (
                    "the same objective to round-off (1e-16 apart at the start), "
                    "but L-BFGS on a piecewise-linear loss amplifies round-off at "
                    "the kinks: 1e-12 apart after 50 iterations, 1e-2 after 200"
                )
    if estimator.scoring == "balanced_accuracy":
        for check in MULTILABEL_CHECKS:
            failures[check] = "balanced_accuracy is not defined for multilabel targets"
    return failures


@parametrize_with_checks(
    CLASSIFIERS + REGRESSORS, expected_failed_checks=expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
