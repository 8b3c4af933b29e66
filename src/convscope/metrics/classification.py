"""TEMP shim until wt-engine merges: accuracy and the confusion matrix of a classifier."""  # TEMP shim until wt-engine merges

from ..train.classify import confusion_matrix, evaluate  # TEMP shim until wt-engine merges

__all__ = ["confusion_matrix", "evaluate"]  # TEMP shim until wt-engine merges
