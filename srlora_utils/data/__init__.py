"""Few-shot data: the task loaders (``tasks``), few-shot sampling and the task object (``fewshot``), image folders
and list files (``images``, ``list_files``), where datasets live (``paths``), and the synthetic fixtures in the
official layouts that CI reads where the real data cannot be had (``fixtures``).

May import: errors, lazy, core, models
"""
