"""Docstring sections both estimators share, written once.

The class docstrings of :class:`~skmlp.NumpyMLPClassifier` and
:class:`~skmlp.NumpyMLPRegressor` hold the marker lines ``{shared parameters}``
and ``{shared attributes}``; :func:`fill` puts these sections in their place,
so ``help()`` and the API docs show each estimator's full documentation.
"""

from __future__ import annotations

SHARED_PARAMETERS = """\
    hidden_layer_sizes : array-like of shape (n_layers - 2,) or int, default=(100,)
        Number of units in each hidden layer. ``()`` gives no hidden layer
        (multinomial logistic regression).

    activation : str or (callable, callable), default="relu"
        Activation of the hidden layers: ``"identity"``, ``"logistic"``,
        ``"tanh"``, ``"relu"`` (as in scikit-learn), ``"leaky_relu"``,
        ``"elu"``, ``"gelu"``, ``"softplus"``, or your own as a pair
        ``(function, derivative)``: each maps the pre-activation array ``Z``
        to an array of the same shape, ``derivative(Z)`` being dA/dZ
        elementwise. A pair is checked on a tiny array at fit time; it
        pickles when both functions are importable (not lambdas).

    solver : {"sgd", "adam", "lbfgs"}, default="adam"
        ``"sgd"``: minibatch stochastic gradient descent with momentum;
        ``"adam"``: Adam; ``"lbfgs"``: full-batch L-BFGS (scipy's L-BFGS-B),
        often best on small data sets; no ``partial_fit``.

    alpha : float, default=1e-4
        Strength of the L2 penalty, ``alpha/2 * sum ||W||^2``, divided like the
        data loss by the sum of the sample weights (as in scikit-learn).

    batch_size : int or "auto", default="auto"
        Minibatch size for the stochastic solvers; ``"auto"`` is
        ``min(200, n_samples)``.

    learning_rate : {"constant", "invscaling", "adaptive", "cosine"}, default="constant"
        Learning-rate schedule of ``solver="sgd"``. ``"cosine"`` (not in
        scikit-learn) decays the rate from ``learning_rate_init`` to 0 over
        ``max_iter`` epochs of one optimizer (one ``fit`` call, or a series
        of ``partial_fit`` calls), following half a cosine period.

    learning_rate_init : float, default=1e-3
        Initial learning rate (``"sgd"`` and ``"adam"``).

    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.

    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (lbfgs)
        of each ``fit`` call.

    shuffle : bool, default=True
        Whether to shuffle the samples at each epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling, dropout and the
        validation split. Every ``fit`` (that is not a warm start) starts
        again from this seed.

    tol : float, default=1e-4
        Improvement (of the training loss, or of the validation score with
        ``early_stopping``) below which an epoch counts as no progress.

    verbose : bool, default=False
        Print one line per epoch.

    warm_start : bool, default=False
        Whether ``fit`` continues from the current weights (with a new
        optimizer, as in scikit-learn).

    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.

    nesterovs_momentum : bool, default=True
        Whether ``solver="sgd"`` uses Nesterov's momentum.

    early_stopping : bool, default=False
        Stop when the validation score has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and keep the best weights of the call.
        The validation set is ``X_val, y_val`` when given to ``fit``, else
        ``validation_fraction`` of the training data (stratified for the
        classifier), drawn once
        per model: a warm-started fit on the same data validates on the same
        rows. On data too small to hold anything out, the training loss is
        watched instead (with a warning). Only effective when
        ``solver="sgd"`` or ``"adam"``, as in scikit-learn: L-BFGS ignores
        it (an ``X_val`` is then only scored into ``history_``), and so does
        ``partial_fit``.

    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping.

    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's decay rates for the first and second moments, and its
        denominator's guard.

    n_iter_no_change : int, default=10
        Epochs without progress (see ``tol``) before stopping.

    max_fun : int, default=15000
        Maximum number of loss evaluations of ``solver="lbfgs"``.

    dropout : float or array-like of float, default=0.0
        Dropout rate of every hidden layer, or one rate per hidden layer
        (inverted dropout: during training each hidden unit is zeroed with
        probability p and the kept ones are scaled by 1/(1-p); nothing
        changes at prediction). Not in scikit-learn.

    dtype : {"auto", "float32", "float64"}, default="auto"
        Precision of the weights and of the arithmetic (not in scikit-learn).
        ``"auto"`` follows X the way scikit-learn's estimators do: float32
        when float32 holds X exactly (float32, bool, 8- and 16-bit integers,
        such as MNIST's uint8 pixels), float64 otherwise. float32 is about
        twice as fast on a CPU; float64 is for exact work (the gradient
        checks use it).
"""

SHARED_ATTRIBUTES = """\
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names seen in ``fit``, when X had string column names.
    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix from layer i to layer i+1, shape
        ``(units[i], units[i+1])``. Writing into it changes the model.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` is the bias vector of layer i+1.
    loss_ : float
        Loss at the end of the last epoch (or of lbfgs).
    best_loss_ : float or None
        Lowest training loss reached; None with ``early_stopping``, unless
        early stopping fell back on the training loss (tiny data), which it
        then records here.
    loss_curve_ : list of float
        Training loss after each epoch (each lbfgs iteration), over all calls.
    validation_scores_ : list of float or None
        Validation score after each epoch with ``early_stopping``.
    best_validation_score_ : float or None
        With ``early_stopping``, the validation score of the weights kept
        (the best epoch of the last ``fit`` call).
    n_iter_ : int
        Number of epochs (iterations for lbfgs) run by the last call.
    t_ : int
        Number of training samples seen by the stochastic solver (0 for
        lbfgs, as in scikit-learn).
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
"""


def fill(cls: type) -> type:
    """Replace the marker lines of ``cls.__doc__`` with the shared sections."""
    cls.__doc__ = cls.__doc__.replace(
        "    {shared parameters}\n", SHARED_PARAMETERS + "\n"
    ).replace("    {shared attributes}\n", SHARED_ATTRIBUTES + "\n")
    return cls
