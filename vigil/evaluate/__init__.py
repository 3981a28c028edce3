"""Evaluation: detector accuracy on labelled images, event accuracy of the pipeline on videos."""
