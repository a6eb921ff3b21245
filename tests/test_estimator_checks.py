"""scikit-learn's own estimator checks, on several configurations."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skmlp import NumpyMLPClassifier

CONFIGURATIONS = [
    NumpyMLPClassifier(),
    NumpyMLPClassifier(activation="logistic", solver="sgd", random_state=0),
    NumpyMLPClassifier(activation="tanh", hidden_layer_sizes=(20, 10), random_state=0),
    NumpyMLPClassifier(solver="sgd", learning_rate="cosine", momentum=0.5),
    NumpyMLPClassifier(solver="lbfgs", activation="identity", random_state=0),
    NumpyMLPClassifier(early_stopping=True, random_state=0),
    NumpyMLPClassifier(dtype="float64", solver="sgd", learning_rate="adaptive"),
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


def expected_failed_checks(estimator):
    if estimator.early_stopping:
        return EARLY_STOPPING_XFAIL
    return {}


@parametrize_with_checks(CONFIGURATIONS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
