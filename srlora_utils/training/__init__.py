"""Training one run: what a run is and its key (``config``: :class:`TrainConfig`, the kit's one source of training
defaults), the method table (``methods``; nested rank sampling in ``nested``), the run itself from config to record
(``run``), the task metrics (``metrics``) and the records that make runs resumable (``records``).

May import: errors, lazy, core, models, data
"""
