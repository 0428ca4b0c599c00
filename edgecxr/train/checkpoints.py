"""The names of a run's checkpoint files: written by the checkpoint callback
(edgecxr.train.callbacks), read back by the train stage when a run resumes. Their own module so
that neither of the two imports the other (callbacks load TensorFlow; the stage must not)."""

CHECKPOINTS = "checkpoints"  # the folder in the run
STATE_FILE = "state.json"
BEST_WEIGHTS = "best_weights.npz"
PRETRAINED_FILE = "pretrained.json"  # in checkpoints/: what pretraining did, for a resumed run's report
