"""tokenroute: pick the model a job needs, and learn what each task really cost."""

__version__ = "0.1.0"
