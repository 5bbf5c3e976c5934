"""engagement-eval: evaluation pipeline for community-engagement programs in policing."""

__version__ = "0.1.0"
