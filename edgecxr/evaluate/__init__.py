"""Evaluation: every model of a run on the same images, float and int8 side by side.

    metrics.py   confusion matrix, per-class table, ROC/PR-AUC, 95 % intervals, thresholds
    compare.py   float vs int8: agreement, the files that flip, probability differences
    models.py    the run's models (Keras, TFLite float, PTQ int8, QAT int8) -> probabilities
    report.py    eval.json, report.md, PNGs, a self-contained report.html, CLI text
    validation.py  decode images with their labels aligned; score a model on the run's validation
                 split (also tune's and shift's)
    stage.py     ``evaluate(run, EvalOptions(...))`` -> EvalResult
"""
